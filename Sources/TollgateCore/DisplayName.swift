/// The one rule for every name a person reads (a user's, a customer's, a workspace's, a key's):
/// trimmed of surrounding spaces, 1 to `maximum` characters (Unicode scalars, as the document's
/// `maxLength` counts), and no control character — NUL, CR, LF and ESC among them — nor a
/// line or paragraph separator or a bidirectional override, which would break a mail header or
/// a log line, or make a name read as something else.
public enum DisplayName {
    public static let defaultMaximum = 200

    public static func validated(_ raw: String, field: String = "name", maximum: Int = defaultMaximum)
        throws(DomainError) -> String
    {
        let name = raw.trimmingWhitespace()
        guard !name.unicodeScalars.isEmpty else { throw DomainError.invalidField(field, "must not be blank") }
        guard name.unicodeScalars.count <= maximum else {
            throw DomainError.invalidField(field, "must be at most \(maximum) characters long")
        }
        guard !name.unicodeScalars.contains(where: isRefused) else {
            throw DomainError.invalidField(
                field, "must not contain control characters, line separators or direction overrides")
        }
        return name
    }

    /// An optional name: nil stays nil.
    public static func validated(optional raw: String?, field: String = "name", maximum: Int = defaultMaximum)
        throws(DomainError) -> String?
    {
        guard let raw else { return nil }
        return try validated(raw, field: field, maximum: maximum)
    }

    static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isControlCharacter { return true }
        switch scalar.value {
        case 0x2028, 0x2029: return true // line and paragraph separators
        case 0x202A...0x202E, 0x2066...0x2069: return true // bidirectional embeddings and overrides
        default: return false
        }
    }
}

extension Unicode.Scalar {
    /// A control character (general category Cc: the C0 controls, DEL and the C1 controls),
    /// compared by code point, which is much cheaper than looking up the scalar's properties.
    public var isControlCharacter: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}

extension String {
    /// Without the spaces (and other white space but controls) at either end.
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        let isSpace = { (scalar: Unicode.Scalar) in scalar.properties.isWhitespace && !DisplayName.isRefused(scalar) }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
