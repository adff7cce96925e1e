import Foundation
import HummingbirdBcrypt
import TollgateCore

/// Password rules and hashing. bcrypt's cost is configurable so tests can run fast; production
/// uses 12 (about a quarter of a second here).
public struct PasswordPolicy: Sendable {
    public let minimumLength: Int
    public let bcryptCost: UInt8
    private let common: Set<String>

    public static let maximumLength = 72  // bcrypt ignores bytes beyond 72

    public init(minimumLength: Int = 10, bcryptCost: UInt8 = 12) {
        self.minimumLength = minimumLength
        self.bcryptCost = bcryptCost
        common = Self.commonPasswords
    }

    /// Throws an error naming `password` when it is too short, too long or too common.
    public func validate(_ password: String, email: String? = nil) throws(DomainError) {
        guard password.count >= minimumLength else {
            throw DomainError(.weakPassword, "the password must have at least \(minimumLength) characters", field: "password")
        }
        guard password.utf8.count <= Self.maximumLength else {
            throw DomainError(.weakPassword, "the password must have at most \(Self.maximumLength) bytes", field: "password")
        }
        let folded = password.lowercased()
        let localPart = email?.lowercased().split(separator: "@").first.map(String.init) ?? ""
        let containsEmail = localPart.count >= 4 && folded.contains(localPart)
        if common.contains(folded) || Set(folded).count <= 3 || containsEmail {
            throw DomainError(.weakPassword, "this password is too common or too easy to guess", field: "password")
        }
    }

    public func hash(_ password: String) -> String { Bcrypt.hash(password, cost: bcryptCost) }

    public func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }

    /// A hash to check against when the account does not exist, so both paths take as long.
    public var decoyHash: String { Self.decoy(cost: bcryptCost) }

    private static func decoy(cost: UInt8) -> String { Bcrypt.hash("decoy password for timing", cost: cost) }

    static let commonPasswords: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).map { $0.lowercased() })
    }()
}
