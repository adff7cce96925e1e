/// A catalog text in several languages (`{en: …, fr: …}`, or one string for every language):
/// English is required and is the fallback.
public struct LocalizedText: Hashable, Sendable {
    public let texts: [String: String]

    public init(_ english: String, others: [String: String] = [:]) {
        texts = others.merging(["en": english]) { _, english in english }
    }

    public var english: String { texts["en"] ?? "" }

    /// The text in `language` (`fr`, `fr-CA`…), else in English.
    public func text(in language: String) -> String {
        let code = String(language.prefix { $0 != "-" && $0 != "_" }).lowercased()
        return texts[code] ?? english
    }

    /// The languages a catalog text may be written in (those the pages speak).
    public static let languages = Set(Languages.supported)
}
