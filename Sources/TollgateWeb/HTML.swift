import TollgateCore

/// A piece of markup that is safe by construction: text is escaped as it goes in, attribute
/// values are escaped and quoted, and only element and attribute names written in this code
/// (never data) become markup.
public struct HTML: Sendable, CustomStringConvertible {
    public private(set) var rendered: String

    init(markup: String) { rendered = markup }

    public static let empty = HTML(markup: "")

    public static func text(_ text: String) -> HTML { HTML(markup: HTMLText.escape(text)) }

    public var description: String { rendered }

    mutating func append(_ other: HTML) { rendered += other.rendered }

    /// The document: the doctype, then `root`.
    public static func document(_ root: HTML) -> String { "<!DOCTYPE html>\n" + root.rendered }
}

@resultBuilder
public enum HTMLBuilder {
    public static func buildExpression(_ text: String) -> HTML { .text(text) }
    public static func buildExpression(_ html: HTML) -> HTML { html }
    public static func buildExpression(_ list: [HTML]) -> HTML { buildArray(list) }
    public static func buildBlock(_ parts: HTML...) -> HTML { buildArray(parts) }
    public static func buildOptional(_ part: HTML?) -> HTML { part ?? .empty }
    public static func buildEither(first: HTML) -> HTML { first }
    public static func buildEither(second: HTML) -> HTML { second }
    public static func buildArray(_ parts: [HTML]) -> HTML {
        var joined = HTML.empty
        for part in parts { joined.append(part) }
        return joined
    }
}

/// Elements that have no content and no closing tag.
private let voidElements: Set<String> = ["br", "hr", "img", "input", "link", "meta"]

/// An element; attributes with a nil value are left out. Boolean attributes are given `""`
/// (`required=""` is `required`).
public func el(
    _ name: String, _ attributes: KeyValuePairs<String, String?> = [:], @HTMLBuilder _ content: () -> HTML = { .empty }
) -> HTML {
    el(name, attributes: attributes.map { ($0.key, $0.value) }, content)
}

/// The same, with attributes gathered at run time.
public func el(
    _ name: String, attributes: [(String, String?)], @HTMLBuilder _ content: () -> HTML = { .empty }
) -> HTML {
    var markup = "<" + name
    for (key, value) in attributes {
        guard let value else { continue }
        markup += " \(key)=\"\(HTMLText.escape(value))\""
    }
    markup += ">"
    guard !voidElements.contains(name) else { return HTML(markup: markup) }
    markup += content().rendered
    markup += "</\(name)>"
    return HTML(markup: markup)
}
