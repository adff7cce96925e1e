import Foundation
import Hummingbird
import TollgateCore
import TollgateStorage

/// Managing the product's secret keys over the API (scope `admin`): create (the secret is shown
/// once), list, revoke, and rotate with a grace period during which both keys work.
struct APIKeyRoutes: Sendable {
    let store: any APIKeyStore
    let authenticator: APIKeyAuthenticator
    let clock: any TollgateClock

    /// Longest grace period a rotation may leave the old key alive: 30 days.
    static let maximumGraceSeconds: Int64 = 30 * 86_400

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin)
            .post("api-keys", use: create)
            .get("api-keys", use: list)
            .delete("api-keys/{id}", use: revoke)
            .post("api-keys/{id}/rotate", use: rotate)
    }

    struct CreateRequest: Decodable {
        let name: String?
        let scopes: [String]
        let expiresAt: Date?
    }

    struct RotateRequest: Decodable {
        let gracePeriodSeconds: WholeNumber?
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CreateRequest.self, context: context)
        guard !body.scopes.isEmpty else { throw DomainError.invalidField("scopes", "give at least one scope") }
        let scopes = try body.scopes.enumerated().map { index, raw in
            guard let scope = Scope(rawValue: raw) else {
                throw DomainError.invalidField(
                    "scopes[\(index)]",
                    "unknown scope \(raw); known: \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return scope
        }
        let now = clock.now()
        if let expiresAt = body.expiresAt, expiresAt <= now {
            throw DomainError.invalidField("expiresAt", "must be in the future")
        }
        let created = APIKeys.generate(
            scopes: Array(Set(scopes)).sorted { $0.rawValue < $1.rawValue },
            name: try DisplayName.validated(optional: body.name),
            at: now, expiresAt: body.expiresAt, rateBucket: context.caller.bucket
        )
        try await store.insertAPIKey(created.record)
        let shown = APIKeyResponse(created.record, secret: nil)
        context.audit.change(target: "api_key:\(created.record.id)", before: nil, after: shown)
        return EditedResponse(status: .created, response: APIKeyResponse(created.record, secret: created.secret))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let keys = try await store.listAPIKeys().map { APIKeyResponse($0, secret: nil) }
        return EditedResponse(status: .ok, response: ListResponse(data: keys))
    }

    @Sendable func revoke(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        guard let revoked = try await store.revokeAPIKey(id: id, at: clock.now()) else {
            throw DomainError(.notFound, "no API key \(id)", field: "id")
        }
        authenticator.forget(keyId: id)
        return EditedResponse(status: .ok, response: APIKeyResponse(revoked, secret: nil))
    }

    @Sendable func rotate(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        // The body is optional (the document says so): without one, the default grace period.
        let body = try await JSONBody.decodeOptional(RotateRequest.self, from: request, context: context)
        let grace = body.gracePeriodSeconds?.value ?? 86_400
        guard (0...Self.maximumGraceSeconds).contains(grace) else {
            throw DomainError.invalidField("gracePeriodSeconds", "must be from 0 to \(Self.maximumGraceSeconds)")
        }
        let replacement = try await Self.rotate(
            id: id, grace: TimeInterval(grace), store: store, authenticator: authenticator, now: clock.now())
        return EditedResponse(
            status: .created, response: APIKeyResponse(replacement.record, secret: replacement.secret))
    }
}

extension APIKeyRoutes {
    /// A new key with the old one's scopes and name; the old one keeps working for `grace`
    /// seconds. The API and the console both rotate through here.
    static func rotate(
        id: String, grace: TimeInterval, store: any APIKeyStore, authenticator: APIKeyAuthenticator, now: Date
    ) async throws -> APIKeys.Created {
        guard let old = try await store.apiKey(id: id), old.revokedAt == nil else {
            throw DomainError(.notFound, "no active API key \(id)", field: "id")
        }
        let replacement = APIKeys.generate(
            scopes: old.scopes.compactMap(Scope.init(rawValue:)), name: old.name, at: now, expiresAt: old.expiresAt,
            rateBucket: old.bucket
        )
        guard try await store.rotateAPIKey(id: id, replacement: replacement.record, oldExpiresAt: now + grace) != nil
        else {
            throw DomainError(.notFound, "no active API key \(id)", field: "id")
        }
        authenticator.forget(keyId: id)
        return replacement
    }
}

struct ListResponse<Item: Encodable>: Encodable {
    let data: [Item]
}

struct APIKeyResponse: Encodable {
    let id: String
    let prefix: String
    /// Only in the answer that creates the key.
    let secret: String?
    let scopes: [String]
    @NullEncoded var name: String?
    let createdAt: Date
    @NullEncoded var expiresAt: Date?
    @NullEncoded var lastUsedAt: Date?
    @NullEncoded var revokedAt: Date?

    init(_ record: APIKeyRecord, secret: String?) {
        id = record.id
        prefix = record.prefix
        self.secret = secret
        scopes = record.scopes
        name = record.name
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        lastUsedAt = record.lastUsedAt
        revokedAt = record.revokedAt
    }
}
