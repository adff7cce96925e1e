import Foundation
import TollgateCore
import TollgateStorage

/// What an API key may do. `admin` may do everything.
public enum Scope: String, Sendable, CaseIterable, Codable {
    case admin
    case entitlementsRead = "entitlements:read"
    case usageWrite = "usage:write"
    case customersWrite = "customers:write"
    case billingWrite = "billing:write"
}

/// Secret API keys: `tg_sk_` and 48 hex characters. Only their SHA-256 is stored; a key of 192
/// random bits needs no slow hash to resist guessing.
public enum APIKeys {
    public static let secretPrefix = "tg_sk_"

    public struct Created: Sendable {
        public let secret: String
        public let record: APIKeyRecord
    }

    public static func generate(
        scopes: [Scope], name: String?, at now: Date, expiresAt: Date? = nil, rateBucket: String? = nil
    ) -> Created {
        let secret = Secrets.randomId(prefix: secretPrefix, bytes: 24)
        let record = APIKeyRecord(
            id: Secrets.randomId(prefix: "key_", bytes: 8), prefix: String(secret.prefix(secretPrefix.count + 6)),
            secretHash: OpaqueDigest.hex(secret), scopes: scopes.map(\.rawValue), name: name, createdAt: now,
            expiresAt: expiresAt, rateBucket: rateBucket
        )
        return Created(secret: secret, record: record)
    }
}
