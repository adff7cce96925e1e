import Foundation

/// The languages Tollgate writes in (pages, mail, documents, catalog texts): one list for all.
public enum Languages {
    public static let supported = ["en", "fr"]
    /// The language of whoever has none on record, and of any word missing in another.
    public static let fallback = "en"

    /// The words of `language`, pages and e-mails in one file (`Resources/words/<language>.yaml`,
    /// sections `pages` and `mail`), as shipped in the binary; nil when this build lacks it.
    public static func words(_ language: String) -> String? {
        Bundle.module.url(forResource: language, withExtension: "yaml", subdirectory: "words")
            .flatMap { try? String(contentsOf: $0, encoding: .utf8) }
    }
}
