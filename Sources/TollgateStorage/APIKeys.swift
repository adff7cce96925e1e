import Foundation
import TollgateCore

public struct APIKeyRecord: Sendable, Hashable {
    public var id: String
    /// The first characters of the secret, shown in listings so a key can be recognized.
    public var prefix: String
    /// SHA-256 of the whole secret, hex. The secret itself is never stored.
    public var secretHash: String
    public var scopes: [String]
    public var name: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    /// The key whose rate-limit bucket this one shares: a key minted or rotated through the API
    /// draws from its maker's bucket, so minting keys never adds requests. Nil: its own.
    public var rateBucket: String?

    /// The bucket the key's requests are counted in.
    public var bucket: String { rateBucket ?? id }

    public init(
        id: String, prefix: String, secretHash: String, scopes: [String], name: String?, createdAt: Date,
        expiresAt: Date? = nil, lastUsedAt: Date? = nil, revokedAt: Date? = nil, rateBucket: String? = nil
    ) {
        self.id = id
        self.prefix = prefix
        self.secretHash = secretHash
        self.scopes = scopes
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.rateBucket = rateBucket
    }
}

public protocol APIKeyStore: Sendable {
    func insertAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(secretHash: String) async throws -> APIKeyRecord?
    func apiKey(id: String) async throws -> APIKeyRecord?
    /// Newest first.
    func listAPIKeys() async throws -> [APIKeyRecord]
    func markAPIKeyUsed(id: String, at: Date) async throws
    /// Revokes the key now; nil if there is no such key. Revoking twice keeps the first time.
    func revokeAPIKey(id: String, at: Date) async throws -> APIKeyRecord?
    /// Inserts `replacement` and makes the old key expire at `oldExpiresAt` (if sooner), in one
    /// transaction; nil (and nothing written) if the old key does not exist or is revoked.
    func rotateAPIKey(id: String, replacement: APIKeyRecord, oldExpiresAt: Date) async throws -> APIKeyRecord?
}
