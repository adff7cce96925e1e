import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Managing the product's secret keys over the API (scope `admin`): create (the secret is shown
/// once), list, revoke, and rotate with a grace period during which both keys work.
struct APIKeyRoutes: Sendable {
    let keys: APIKeyService

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
        let scopes = try body.scopes.enumerated().map { index, raw in
            guard let scope = Scope(rawValue: raw) else {
                throw DomainError.invalidField(
                    "scopes[\(index)]",
                    "unknown scope \(raw); known: \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return scope
        }
        let created = try await keys.create(
            scopes: scopes, name: body.name, expiresAt: body.expiresAt, rateBucket: context.caller.bucket)
        return EditedResponse(status: .created, response: APIKeyResponse(created.record, secret: created.secret))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        EditedResponse(
            status: .ok, response: ListResponse(data: try await keys.list().map { APIKeyResponse($0, secret: nil) }))
    }

    @Sendable func revoke(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let revoked = try await keys.revoke(id: try Validate.pathIdentifier(context))
        return EditedResponse(status: .ok, response: APIKeyResponse(revoked, secret: nil))
    }

    @Sendable func rotate(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        // The body is optional (the document says so): without one, the default grace period.
        let body = try await JSONBody.decodeOptional(RotateRequest.self, from: request, context: context)
        let replacement = try await keys.rotate(id: id, grace: TimeInterval(body.gracePeriodSeconds?.value ?? 86_400))
        return EditedResponse(
            status: .created, response: APIKeyResponse(replacement.record, secret: replacement.secret))
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
