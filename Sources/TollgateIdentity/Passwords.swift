import Foundation
import HummingbirdBcrypt
import TollgateCore

/// Password rules and hashing. bcrypt's cost is configurable so tests can run fast; production
/// uses 12 (about a quarter of a second here).
public struct PasswordPolicy: Sendable {
    public let minimumLength: Int
    public let bcryptCost: UInt8
    private let common: Set<String>
    /// Where hashing runs (the process's one gate, unless a test gives its own).
    private let gate: BoundedWork

    public static let maximumLength = 72 // bcrypt ignores bytes beyond 72

    public init(minimumLength: Int = 10, bcryptCost: UInt8 = 12, gate: BoundedWork = PasswordPolicy.hashing) {
        self.minimumLength = minimumLength
        self.bcryptCost = bcryptCost
        self.gate = gate
        common = Self.commonPasswords
    }

    /// Throws an error naming `password` when it is too short, too long, holds a control
    /// character (bcrypt stops at NUL, so "abc\0defghijkl" would sign in as "abc") or is too common.
    public func validate(_ password: String, email: String? = nil) throws(DomainError) {
        guard !Self.hasControlCharacter(password) else {
            throw DomainError(.weakPassword, "the password must not contain control characters", field: "password")
        }
        guard password.count >= minimumLength else {
            throw DomainError(
                .weakPassword, "the password must have at least \(minimumLength) characters", field: "password")
        }
        guard password.utf8.count <= Self.maximumLength else {
            throw DomainError(
                .weakPassword, "the password must have at most \(Self.maximumLength) bytes", field: "password")
        }
        let folded = password.lowercased()
        let localPart = email?.lowercased().split(separator: "@").first.map(String.init) ?? ""
        let containsEmail = localPart.count >= 4 && folded.contains(localPart)
        if common.contains(folded) || Set(folded).count <= 3 || containsEmail {
            throw DomainError(.weakPassword, "this password is too common or too easy to guess", field: "password")
        }
    }

    public func hash(_ password: String) -> String { Bcrypt.hash(password, cost: bcryptCost) }

    /// Every bcrypt run of the process: on Dispatch's threads, as many at once as there are
    /// cores, a few dozen waiting, the rest refused (503) — a flood of sign-ins cannot starve the
    /// threads that answer everything else.
    public static let hashing = BoundedWork(
        name: "password checks", width: ProcessInfo.processInfo.activeProcessorCount, depth: 64)

    /// `hash`, off the request threads.
    public func hashed(_ password: String) async throws -> String {
        try await gate.run { [self] in hash(password) }
    }

    /// `verify`, off the request threads.
    public func matches(_ password: String, hash: String) async throws -> Bool {
        try await gate.run { [self] in verify(password, hash: hash) }
    }

    /// True when `password` matches `hash`. A password that no policy could have accepted (a
    /// control character, over 72 bytes, shorter than the minimum) never matches: bcrypt would
    /// compare only its first 72 bytes, or the bytes before a NUL, and a hash made before NULs
    /// were refused at registration is the hash of that prefix. The comparison runs anyway (on
    /// on a stand-in), so a refusal takes as long as a check.
    public func verify(_ password: String, hash: String) -> Bool {
        let acceptable =
            !Self.hasControlCharacter(password) && password.utf8.count <= Self.maximumLength
            && password.count >= minimumLength
        let matches = Bcrypt.verify(acceptable ? password : "refused", hash: hash)
        return acceptable && matches
    }

    static func hasControlCharacter(_ password: String) -> Bool {
        password.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// A hash to check against when the account does not exist, so both paths take as long.
    public var decoyHash: String { Bcrypt.hash("decoy password for timing", cost: bcryptCost) }

    static let commonPasswords: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).map { $0.lowercased() })
    }()
}
