import Foundation
import TollgateCore
import Yams

/// The pages' words in each language they speak, the `pages` section of the language's words
/// (`Languages.words`), loaded once. Every key exists in every language and every key is used (tests hold both); a key
/// missing at run time reads as its English word, or as the key itself, never as a placeholder.
public enum Lexicon {
    public static let locales = Languages.supported
    public static let defaultLocale = Languages.fallback

    /// Per language, the words by key.
    static let words: [String: [String: String]] = {
        struct File: Decodable { let pages: [String: String] }
        var words: [String: [String: String]] = [:]
        for language in locales {
            guard let text = Languages.words(language), let file = try? YAMLDecoder().decode(File.self, from: text)
            else {
                // The words ship in the binary: without them the build itself is broken.
                preconditionFailure("words/\(language).yaml is missing from this build or has no map of pages' words")
            }
            words[language] = file.pages
        }
        return words
    }()

    public static func word(_ key: String, locale: String) -> String {
        words[locale]?[key] ?? words[defaultLocale]?[key] ?? key
    }

    static func knows(_ key: String, locale: String) -> Bool { words[locale]?[key] != nil }

    static func keys(_ locale: String) -> Set<String> { Set(words[locale]?.keys ?? [:].keys) }

    /// The language a reader asked for: `fr` when the header prefers French, else English.
    public static func preferred(acceptLanguage: String?) -> String {
        let first = acceptLanguage?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        return locales.first { $0 != defaultLocale && first.hasPrefix($0) } ?? defaultLocale
    }
}
