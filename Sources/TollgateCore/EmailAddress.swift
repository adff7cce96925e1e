/// The e-mail addresses Tollgate accepts: what RFC 5321 can carry in a `MAIL`/`RCPT` path, in
/// the dot-atom form of RFC 5322 (no quoted local parts, no comments, no address literals), UTF-8
/// allowed (RFC 6531). Anything that could break out of a mail header (CR, LF, NUL, any control
/// character, spaces, `<>`, `,`, `;`, `:`) is refused.
public enum EmailAddress {
    /// RFC 5321: a path is at most 256 octets with its angle brackets. Lengths here count
    /// characters (Unicode scalars), as JSON Schema does, so the document's pattern and these
    /// rules agree exactly; for ASCII addresses that is RFC 5321's count.
    public static let maximumLength = 254
    static let maximumLocalPartLength = 64
    static let maximumLabelLength = 63
    static let maximumDomainLength = 253
    /// The characters of an atom besides letters and digits (RFC 5322 §3.2.3).
    private static let atomSymbols = Set("!#$%&'*+/=?^_`{|}~-".unicodeScalars)
    /// Spaces and separators beyond ASCII (Unicode's Zs, Zl, Zp): never part of an address.
    private static let separators = Set<UInt32>([0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
        .union(0x2000...0x200A)

    /// These rules as a JSON Schema (ECMA-262) pattern: `openapi.yaml`'s `Email` carries it, and a
    /// test holds the two to the same answers.
    public static let pattern: String = {
        let international = #"[^\x00-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"#
        let atom = #"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|"# + international + ")"
        let letter = "(?:[A-Za-z0-9]|" + international + ")"
        let label = letter + "(?:(?:" + letter + "|-){0,61}" + letter + ")?"
        return #"^(?=.{1,254}$)(?=[^@]{1,64}@)"# + atom + "+(?:\\." + atom + "+)*@(?=.{1,253}$)" + label
            + "(?:\\." + label + ")+$"
    }()

    /// The address, lowercased (Tollgate compares addresses without case); throws naming `field`.
    public static func normalized(_ value: String, field: String = "email") throws(DomainError) -> String {
        guard value.unicodeScalars.count <= maximumLength else {
            throw DomainError.invalidField(field, "must be at most \(maximumLength) characters long")
        }
        // Scalars, not Characters: a combining mark after `@` or `.` must not hide it.
        let parts = value.unicodeScalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw DomainError.invalidField(field, "must hold exactly one @") }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.count <= maximumLocalPartLength, isDotAtom(local) else {
            throw DomainError.invalidField(field, "not an e-mail address: the part before @ is not valid")
        }
        guard isDomain(domain) else {
            throw DomainError.invalidField(field, "not an e-mail address: the domain is not valid")
        }
        return value.lowercased()
    }

    private static func isDotAtom(_ text: Substring.UnicodeScalarView) -> Bool {
        text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.allSatisfy { isAtomScalar($0) }
        }
    }

    private static func isAtomScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)) || atomSymbols.contains(scalar)
        }
        return isInternationalScalar(scalar)
    }

    /// Characters beyond ASCII (RFC 6531): anything past U+00A0 but a space or separator. C1
    /// controls (U+0080–U+009F) and the no-break space are refused with the ASCII ones.
    private static func isInternationalScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value > 0xA0 && !separators.contains(scalar.value)
    }

    /// At least two labels of letters, digits and inner hyphens, each 1 to 63 characters.
    private static func isDomain(_ text: Substring.UnicodeScalarView) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.count <= maximumDomainLength else { return false }
        return labels.allSatisfy { label in
            guard !label.isEmpty, label.count <= maximumLabelLength, label.first != "-", label.last != "-" else {
                return false
            }
            return label.allSatisfy { scalar in
                scalar.isASCII
                    ? scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                    : isInternationalScalar(scalar)
            }
        }
    }
}
