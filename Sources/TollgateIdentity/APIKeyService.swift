import Foundation
import TollgateCore
import TollgateStorage

/// The product's secret keys, whichever door manages them (the API, the console, the CLI): made
/// with their secret shown once, listed, revoked, and rotated with a grace period during which
/// both keys work. A key revoked or rotated out is forgotten by the authenticator at once.
public struct APIKeyService: Sendable {
    let store: any APIKeyStore & TransactionalStorage
    let clock: any TollgateClock
    /// Told of each key revoked or rotated out: the authenticator's cache. Nil where no process
    /// caches keys (the CLI: a server re-reads a key within its cache's few seconds).
    let forget: (@Sendable (String) -> Void)?

    /// Longest grace period a rotation may leave the old key alive: 30 days.
    public static let maximumGraceSeconds: Int64 = 30 * 86_400

    public init(
        store: any APIKeyStore & TransactionalStorage, clock: any TollgateClock, forget: (@Sendable (String) -> Void)?
    ) {
        self.store = store
        self.clock = clock
        self.forget = forget
    }

    /// A new key; `scopes` are sorted and distinct, `name` is checked as a display name.
    public func create(scopes: [Scope], name: String?, expiresAt: Date? = nil, rateBucket: String? = nil)
        async throws -> APIKeys.Created
    {
        guard !scopes.isEmpty else { throw DomainError.invalidField("scopes", "give at least one scope") }
        let now = clock.now()
        if let expiresAt, expiresAt <= now { throw DomainError.invalidField("expiresAt", "must be in the future") }
        let created = APIKeys.generate(
            scopes: Array(Set(scopes)).sorted { $0.rawValue < $1.rawValue },
            name: try DisplayName.validated(optional: name), at: now, expiresAt: expiresAt, rateBucket: rateBucket)
        try await store.transaction { tx in
            try await tx.insertAPIKey(created.record)
            try await Audit.record(
                AuditChange(
                    "api_key.created", target: "api_key:\(created.record.id)", after: AuditedAPIKey(created.record)),
                in: tx)
        }
        return created
    }

    public func list() async throws -> [APIKeyRecord] { try await store.listAPIKeys() }

    public func revoke(id: String) async throws -> APIKeyRecord {
        let now = clock.now()
        let revoked = try await store.transaction { tx in
            let before = try await tx.apiKey(id: id)
            guard let revoked = try await tx.revokeAPIKey(id: id, at: now) else {
                throw DomainError(.notFound, "no API key \(id)", field: "id")
            }
            try await Audit.record(
                AuditChange(
                    "api_key.revoked", target: "api_key:\(id)", before: before.map { AuditedAPIKey($0) },
                    after: AuditedAPIKey(revoked)),
                in: tx)
            return revoked
        }
        forget?(id)
        return revoked
    }

    /// A new key with the old one's scopes, name and expiry; the old one keeps working for
    /// `grace` seconds.
    public func rotate(id: String, grace: TimeInterval) async throws -> APIKeys.Created {
        guard (0...TimeInterval(Self.maximumGraceSeconds)).contains(grace) else {
            throw DomainError.invalidField("gracePeriodSeconds", "must be from 0 to \(Self.maximumGraceSeconds)")
        }
        let now = clock.now()
        guard let old = try await store.apiKey(id: id), old.revokedAt == nil else {
            throw DomainError(.notFound, "no active API key \(id)", field: "id")
        }
        let replacement = APIKeys.generate(
            scopes: old.scopes.compactMap(Scope.init(rawValue:)), name: old.name, at: now, expiresAt: old.expiresAt,
            rateBucket: old.bucket)
        try await store.transaction { tx in
            guard
                let rotated = try await tx.rotateAPIKey(
                    id: id, replacement: replacement.record, oldExpiresAt: now + grace)
            else {
                throw DomainError(.notFound, "no active API key \(id)", field: "id")
            }
            try await Audit.record(
                AuditChange(
                    "api_key.rotated", target: "api_key:\(id)", before: AuditedAPIKey(old),
                    after: AuditedAPIKey(rotated, replacedBy: replacement.record.id)),
                in: tx)
        }
        forget?(id)
        return replacement
    }
}

/// A key as the audit trail records it: never its secret nor the secret's hash.
struct AuditedAPIKey: Encodable {
    let id: String
    let prefix: String
    let scopes: [String]
    let name: String?
    let expiresAt: Date?
    let revokedAt: Date?
    let replacedBy: String?

    init(_ key: APIKeyRecord, replacedBy: String? = nil) {
        id = key.id
        prefix = key.prefix
        scopes = key.scopes
        name = key.name
        expiresAt = key.expiresAt
        revokedAt = key.revokedAt
        self.replacedBy = replacedBy
    }
}
