import Foundation
import Synchronization

/// The master key, generated on first start into `<data-dir>/keys/master.key` (mode 0600), never
/// into the repository — or `TOLLGATE_MASTER_KEY`, base64 of 32 bytes. It seals what the database
/// keeps secret (TOTP seeds, webhook secrets, signing keys, the audit chain's key).
public struct KeyDirectory: Sendable {
    public let path: String

    public init(dataDirectory: String) {
        path = (dataDirectory as NSString).appendingPathComponent("keys")
    }

    private var signingPath: String { (path as NSString).appendingPathComponent("signing") }
    var masterPath: String { (path as NSString).appendingPathComponent("master.key") }
    /// The next master key while `tollgate keys rotate-master` runs (or a crash stopped it).
    var pendingPath: String { (path as NSString).appendingPathComponent("master.key.next") }

    /// Whether a master key exists already (in the environment or the data directory).
    public func hasMasterKey(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["TOLLGATE_MASTER_KEY"] != nil || FileManager.default.fileExists(atPath: masterPath)
    }

    /// The key of a rotation in progress, if there is one.
    func pendingMasterKey() throws -> SecretBox? {
        guard FileManager.default.fileExists(atPath: pendingPath) else { return nil }
        guard let box = SecretBox(base64: try String(contentsOfFile: pendingPath, encoding: .utf8)) else {
            throw KeyDirectoryError.invalid("\(pendingPath) is not base64 of 32 bytes")
        }
        return box
    }

    func writePendingMasterKey(_ key: Data) throws {
        try? FileManager.default.removeItem(atPath: pendingPath)
        try writePrivate(Data(key.base64EncodedString().utf8), to: pendingPath)
    }

    /// The pending key becomes the master key (a rename: the file is never half-written).
    func commitPendingMasterKey() throws {
        guard rename(pendingPath, masterPath) == 0 else {
            throw KeyDirectoryError.invalid("cannot rename \(pendingPath) to \(masterPath)")
        }
    }

    func discardPendingMasterKey() throws {
        try FileManager.default.removeItem(atPath: pendingPath)
    }

    public func secretBox(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let fromEnvironment = environment["TOLLGATE_MASTER_KEY"] {
            guard let box = SecretBox(base64: fromEnvironment) else {
                throw KeyDirectoryError.invalid("TOLLGATE_MASTER_KEY must be base64 of 32 bytes")
            }
            return box
        }
        let file = masterPath
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

    /// The signing keys a server kept here before they moved into the database (imported once
    /// by `SigningKeyVault`); oldest first.
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

/// The signing keys a running server uses: those of the database (`SigningKeyVault`), brought
/// up to date every few seconds by `SigningKeyRefresher`, so that a rotation made anywhere
/// reaches every node without a restart.
public final class SigningKeyRing: Sendable {
    private let state: Mutex<TokenSigner>

    public init(keys: [SigningKey]) {
        state = Mutex(TokenSigner(keys: keys))
    }

    public func signer(now: Date) -> TokenSigner { state.withLock { $0 } }

    /// Signs with the newest of `keys` from now on; an empty list keeps the keys there are.
    public func replace(_ keys: [SigningKey]) {
        guard !keys.isEmpty else { return }
        state.withLock { $0 = TokenSigner(keys: keys) }
    }
}
