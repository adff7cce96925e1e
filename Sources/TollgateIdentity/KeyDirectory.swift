import Foundation
import Synchronization

/// Secrets generated on first start into `<data-dir>/keys` (mode 0600), never into the repository:
/// the master key that seals TOTP seeds (or `TOLLGATE_MASTER_KEY`, base64 of 32 bytes), and the
/// Ed25519 signing keys, one JSON file each.
public struct KeyDirectory: Sendable {
    public let path: String

    public init(dataDirectory: String) {
        path = (dataDirectory as NSString).appendingPathComponent("keys")
    }

    private var signingPath: String { (path as NSString).appendingPathComponent("signing") }

    public func secretBox(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let fromEnvironment = environment["TOLLGATE_MASTER_KEY"] {
            guard let box = SecretBox(base64: fromEnvironment) else {
                throw KeyDirectoryError.invalid("TOLLGATE_MASTER_KEY must be base64 of 32 bytes")
            }
            return box
        }
        let file = (path as NSString).appendingPathComponent("master.key")
        if !FileManager.default.fileExists(atPath: file) {
            try writePrivate(Data(SecretBox.generateKey().base64EncodedString().utf8), to: file)
        }
        guard let box = SecretBox(base64: try String(contentsOfFile: file, encoding: .utf8)) else {
            throw KeyDirectoryError.invalid("\(file) is not base64 of 32 bytes")
        }
        return box
    }

    private struct StoredKey: Codable {
        let kid: String
        let createdAt: Date
        let privateKey: String
    }

    /// Every signing key on disk; generates the first one when there is none.
    public func signingKeys(now: Date) throws -> [SigningKey] {
        let keys = try readSigningKeys()
        if !keys.isEmpty { return keys }
        return [try rotateSigningKey(now: now)]
    }

    /// Writes a new signing key, which signs from now on. Older keys stay published.
    @discardableResult
    public func rotateSigningKey(now: Date) throws -> SigningKey {
        let key = SigningKey.generate(at: now)
        let stored = StoredKey(kid: key.kid, createdAt: key.createdAt, privateKey: Base64URL.encode(key.rawPrivateKey))
        let encoder = JSONEncoder()
        // Milliseconds: two keys made within a second must still sort in order.
        encoder.dateEncodingStrategy = .millisecondsSince1970
        try writePrivate(
            try encoder.encode(stored), to: (signingPath as NSString).appendingPathComponent("\(key.kid).json"))
        return key
    }

    /// Deletes keys that stopped signing more than `retention` before `now` (when the key after
    /// them was made): every token they signed has expired. The signing key always stays.
    public func pruneSigningKeys(retention: TimeInterval, now: Date) throws {
        let keys = try readSigningKeys()
        for (key, successor) in zip(keys, keys.dropFirst()) where now.timeIntervalSince(successor.createdAt) > retention
        {
            try FileManager.default.removeItem(
                atPath: (signingPath as NSString).appendingPathComponent("\(key.kid).json"))
        }
    }

    func readSigningKeys() throws -> [SigningKey] {
        guard FileManager.default.fileExists(atPath: signingPath) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try FileManager.default.contentsOfDirectory(atPath: signingPath).filter { $0.hasSuffix(".json") }.map {
            name in
            let stored = try decoder.decode(
                StoredKey.self,
                from: Data(contentsOf: URL(fileURLWithPath: (signingPath as NSString).appendingPathComponent(name))))
            guard let raw = Base64URL.decode(stored.privateKey) else {
                throw KeyDirectoryError.invalid("\(name) holds no valid key")
            }
            return try SigningKey(kid: stored.kid, rawPrivateKey: raw, createdAt: stored.createdAt)
        }.sorted { $0.createdAt < $1.createdAt }
    }

    private func writePrivate(_ data: Data, to file: String) throws {
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: file, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw KeyDirectoryError.invalid("cannot write \(file)")
        }
    }
}

public enum KeyDirectoryError: Error, Sendable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): return message
        }
    }
}

/// The signing keys a running server uses, re-read from disk at most every few seconds so that
/// `tollgate keys rotate-signing` takes effect without a restart.
public final class SigningKeyRing: Sendable {
    private let directory: KeyDirectory?
    private let state: Mutex<(signer: TokenSigner, checkedAt: Date)>
    private let refreshSeconds: TimeInterval = 5

    /// Keys from `directory`, reloaded as they change.
    public init(directory: KeyDirectory, now: Date) throws {
        self.directory = directory
        state = Mutex((TokenSigner(keys: try directory.signingKeys(now: now)), now))
    }

    /// Fixed keys, for tests.
    public init(keys: [SigningKey]) {
        directory = nil
        state = Mutex((TokenSigner(keys: keys), .distantFuture))
    }

    public func signer(now: Date) -> TokenSigner {
        let (signer, checkedAt) = state.withLock { ($0.signer, $0.checkedAt) }
        guard let directory, now.timeIntervalSince(checkedAt) >= refreshSeconds else { return signer }
        // A failed reload keeps the keys we have: a half-written file must not stop sign-ins.
        let reloaded = (try? directory.readSigningKeys()).flatMap { $0.isEmpty ? nil : TokenSigner(keys: $0) } ?? signer
        state.withLock { $0 = (reloaded, now) }
        return reloaded
    }
}
