import Foundation
import TollgateCore
import TollgateStorage

/// The access-token signing keys, kept in the database sealed under the master key: every node
/// signs and verifies with the same ones, and `tollgate keys rotate-signing` (run anywhere)
/// reaches them all. Before, each node kept its own keys in `<data-dir>/keys/signing`; the first
/// start with the database's keys imports those, so tokens already handed out stay valid.
public struct SigningKeyVault: Sendable {
    static let prefix = "signing/"
    /// The first key has a fixed name, so that nodes starting together agree on one.
    static let firstName = prefix + "first"

    let store: any SealedKeyStore
    let box: SecretBox

    public init(store: any SealedKeyStore, box: SecretBox) {
        self.store = store
        self.box = box
    }

    private struct Stored: Codable {
        let kid: String
        let createdAt: Int64
        let privateKey: String
    }

    /// Every key, oldest first.
    public func keys() async throws -> [SigningKey] {
        try await store.sealedKeys(prefix: Self.prefix).map(open).sorted { $0.createdAt < $1.createdAt }
    }

    /// Every key; on first use, the data directory's keys (when it has any) or a new one.
    public func keysMakingFirst(now: Date, importing directory: KeyDirectory?) async throws -> [SigningKey] {
        let existing = try await keys()
        if !existing.isEmpty { return existing }
        let legacy = (try? directory?.readSigningKeys()) ?? []
        guard let first = legacy.first else {
            _ = try await store.sealedKey(name: Self.firstName, creating: try seal(SigningKey.generate(at: now)))
            return try await keys()
        }
        _ = try await store.sealedKey(name: Self.firstName, creating: try seal(first))
        for key in legacy.dropFirst() {
            _ = try await store.sealedKey(name: Self.prefix + key.kid, creating: try seal(key))
        }
        return try await keys()
    }

    /// A new key, which signs from now on; older ones stay published.
    @discardableResult
    public func rotate(now: Date) async throws -> SigningKey {
        let key = SigningKey.generate(at: now)
        try await store.insertSealedKey(try seal(key, name: Self.prefix + key.kid))
        return key
    }

    /// Deletes keys that stopped signing more than `retention` before `now` (when the key after
    /// them was made): every token they signed has expired. The signing key always stays.
    public func prune(retention: TimeInterval, now: Date) async throws {
        let stored = try await store.sealedKeys(prefix: Self.prefix)
        let keys = try stored.map { (record: $0, key: try open($0)) }.sorted { $0.key.createdAt < $1.key.createdAt }
        for (old, successor) in zip(keys, keys.dropFirst())
        where now.timeIntervalSince(successor.key.createdAt) > retention {
            try await store.deleteSealedKey(name: old.record.name)
        }
    }

    private func seal(_ key: SigningKey, name: String? = nil) throws -> SealedKeyRecord {
        let stored = Stored(
            kid: key.kid, createdAt: Millis.from(key.createdAt), privateKey: Base64URL.encode(key.rawPrivateKey))
        return SealedKeyRecord(
            name: name ?? Self.firstName, sealed: try box.seal(Array(try JSONEncoder().encode(stored))),
            createdAt: key.createdAt)
    }

    private func open(_ record: SealedKeyRecord) throws -> SigningKey {
        guard let opened = try? box.open(record.sealed) else {
            throw KeyDirectoryError.invalid(
                """
                the database's signing key \(record.name) is sealed with another master key: every node (and \
                every command) on one database needs the same master key — TOLLGATE_MASTER_KEY, or a copy of \
                the first node's <data-dir>/keys/master.key
                """)
        }
        let stored = try JSONDecoder().decode(Stored.self, from: Data(opened))
        guard let raw = Base64URL.decode(stored.privateKey) else {
            throw KeyDirectoryError.invalid("the signing key \(record.name) holds no valid key")
        }
        return try SigningKey(kid: stored.kid, rawPrivateKey: raw, createdAt: Millis.date(stored.createdAt))
    }
}
