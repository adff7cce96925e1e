/// Text made safe to place in HTML (an element's content or a quoted attribute): the five
/// characters that could open markup or end an attribute are escaped. Every page and every
/// e-mail Tollgate writes goes through here.
///
/// The comparison is made on Unicode scalars, never on `Character`s: a grapheme cluster such as
/// `"` followed by a combining accent, or `<` after a prepended concatenation mark, is one
/// `Character` equal to none of the five, yet a browser's tokenizer still reads its bare `"` or `<`.
public enum HTMLText {
    public static func escape(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": escaped.append(contentsOf: "&quot;".unicodeScalars)
            case "'": escaped.append(contentsOf: "&#39;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
