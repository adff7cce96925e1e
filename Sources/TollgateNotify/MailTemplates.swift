import Foundation
import Mustache
import TollgateCore
import Yams

/// The e-mails' words and layout: per locale (the `mail` section of TollgateCore's
/// `Resources/words/<locale>.yaml`, beside the pages' words) a subject,
/// paragraphs and an action label per kind, each a Mustache template; and one layout each for the
/// text and the HTML part (`layout.text.mustache`, `layout.html.mustache`). Values are rendered
/// into the words as plain text, then the words, escaped by `HTMLText`, into the HTML layout: a
/// name containing `<script>` arrives as text.
public struct MailTemplates: Sendable {
    public static let locales = Languages.supported
    public static let defaultLocale = Languages.fallback
    /// The button's colour when the catalog names none.
    static let defaultColor = "#1e40af"

    struct Kind: Sendable {
        let subject: MustacheTemplate
        let lines: [MustacheTemplate]
        let action: MustacheTemplate?
        /// False for a notice that asks the reader to act if it was not them (a security notice):
        /// the footer's "you can ignore it" would contradict it.
        let ignorable: Bool
    }

    struct Words: Sendable {
        let footer: String
        let unsubscribe: String
        /// How a label is followed by its link in text (French puts a space before the colon).
        let colon: String
        let kinds: [String: Kind]
    }

    let words: [String: Words]
    let layouts: MustacheLibrary

    public enum Failure: Error, CustomStringConvertible {
        case missing(String)
        case invalid(String, String)

        public var description: String {
            switch self {
            case .missing(let file): return "mail template \(file) is missing from this build"
            case .invalid(let file, let reason): return "mail template \(file): \(reason)"
            }
        }
    }

    /// The templates shipped in the binary.
    public static func bundled() throws -> MailTemplates {
        func text(_ name: String, _ ext: String) throws -> String {
            guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "mail") else {
                throw Failure.missing("\(name).\(ext)")
            }
            return try String(contentsOf: url, encoding: .utf8)
        }
        var words: [String: Words] = [:]
        for locale in locales {
            guard let file = Languages.words(locale) else { throw Failure.missing("words/\(locale).yaml") }
            words[locale] = try parse(file, file: "words/\(locale).yaml")
        }
        var layouts = MustacheLibrary()
        for part in ["text", "html"] {
            try layouts.register(try text("layout.\(part)", "mustache"), named: part)
        }
        return MailTemplates(words: words, layouts: layouts)
    }

    static func parse(_ yaml: String, file: String) throws -> Words {
        struct Raw: Decodable {
            struct Kind: Decodable {
                let subject: String
                let lines: [String]
                let action: String?
                let ignorable: Bool?
            }
            let footer: String
            let unsubscribe: String
            let colon: String
            let kinds: [String: Kind]
        }
        do {
            // The mail's section of the language's words (the pages' is the other).
            struct File: Decodable { let mail: Raw }
            let raw = try YAMLDecoder().decode(File.self, from: yaml).mail
            return Words(
                footer: raw.footer, unsubscribe: raw.unsubscribe, colon: raw.colon,
                kinds: try raw.kinds.mapValues { kind in
                    Kind(
                        subject: try plain(kind.subject), lines: try kind.lines.map(plain),
                        action: try kind.action.map(plain), ignorable: kind.ignorable ?? true)
                })
        } catch {
            throw Failure.invalid(file, "\(error)")
        }
    }

    /// A template of words: values go in as they are (the layout escapes the result for HTML).
    static func plain(_ template: String) throws -> MustacheTemplate {
        try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template)
    }

    /// The kinds every locale must write (the test holds each locale to it).
    public func kinds(locale: String) -> Set<String> { Set(words[locale]?.kinds.keys ?? [:].keys) }

    /// A rendered e-mail's subject, text and HTML.
    struct Rendered {
        let subject: String
        let text: String
        let html: String
    }

    /// Renders `kind` in `locale` (English when the locale has no words) with `values`; `action`
    /// and `unsubscribe` are the links, when the mail has them. Nil for a kind no locale writes.
    func render(
        kind: String, locale: String, values: [String: Any], action: URL?, unsubscribe: URL?, brandColor: String? = nil
    ) -> Rendered? {
        guard let words = words[locale] ?? words[Self.defaultLocale], let template = words.kinds[kind] else {
            return nil
        }
        let subject = template.subject.render(values)
        let lines = template.lines.map { $0.render(values) }.filter { !$0.isEmpty }
        let label = action.flatMap { _ in template.action?.render(values) }
        // The text layout takes the words as they are; the HTML layout takes them escaped here,
        // scalar by scalar (`HTMLText`), and places them with `{{{ }}}`: the template engine's own
        // escaping compares grapheme clusters, which a combining mark after `"` or `<` slips past.
        func layout(_ word: (String) -> String) -> [String: Any] {
            var layout: [String: Any] = [
                "locale": word(locale), "subject": word(subject), "lines": lines.map(word), "colon": word(words.colon),
                // The catalog checked the colour is #rrggbb; the product's name heads the HTML mail.
                "color": brandColor ?? Self.defaultColor,
            ]
            if let product = values["product"] as? String { layout["product"] = word(product) }
            if template.ignorable { layout["footer"] = word(words.footer) }
            if let action, let label { layout["action"] = ["label": word(label), "url": word(action.absoluteString)] }
            if let unsubscribe {
                layout["unsubscribe"] = ["label": word(words.unsubscribe), "url": word(unsubscribe.absoluteString)]
            }
            return layout
        }
        return Rendered(
            subject: subject, text: Self.tidy(layouts.render(layout { $0 }, withTemplate: "text") ?? ""),
            html: layouts.render(layout(HTMLText.escape), withTemplate: "html") ?? "")
    }

    /// The text part without the template's leading blank lines, ending with one newline.
    static func tidy(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
}
