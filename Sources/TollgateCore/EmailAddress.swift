/// The e-mail addresses Tollgate accepts: what RFC 5321 can carry in a `MAIL`/`RCPT` path, in
/// the dot-atom form of RFC 5322 (no quoted local parts, no comments, no address literals), UTF-8
/// allowed (RFC 6531). Anything that could break out of a mail header (CR, LF, NUL, any control
/// character, spaces, `<>`, `,`, `;`, `:`) is refused.
public enum EmailAddress {
    /// RFC 5321: a path is at most 256 octets with its angle brackets.
    public static let maximumLength = 254
    static let maximumLocalPartLength = 64
    static let maximumLabelLength = 63
    /// The characters of an atom besides letters and digits (RFC 5322 §3.2.3).
    private static let atomSymbols = Set("!#$%&'*+/=?^_`{|}~-".unicodeScalars)

    /// The address, lowercased (Tollgate compares addresses without case); throws naming `field`.
    public static func normalized(_ value: String, field: String = "email") throws(DomainError) -> String {
        guard value.utf8.count <= maximumLength else {
            throw DomainError.invalidField(field, "must be at most \(maximumLength) bytes long")
        }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw DomainError.invalidField(field, "must hold exactly one @") }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= maximumLocalPartLength, isDotAtom(local) else {
            throw DomainError.invalidField(field, "not an e-mail address: the part before @ is not valid")
        }
        guard isDomain(domain) else {
            throw DomainError.invalidField(field, "not an e-mail address: the domain is not valid")
        }
        return value.lowercased()
    }

    private static func isDotAtom(_ text: Substring) -> Bool {
        text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.unicodeScalars.allSatisfy { isAtomScalar($0) }
        }
    }

    private static func isAtomScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)) || atomSymbols.contains(scalar)
        }
        return isInternationalScalar(scalar)
    }

    /// Letters, marks and digits beyond ASCII (RFC 6531); never a control, space or separator.
    private static func isInternationalScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// At least two labels of letters, digits and inner hyphens, each 1 to 63 bytes.
    private static func isDomain(_ text: Substring) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            guard !label.isEmpty, label.utf8.count <= maximumLabelLength, label.first != "-", label.last != "-" else {
                return false
            }
            return label.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    ? scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                    : isInternationalScalar(scalar)
            }
        }
    }
}
