import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage

/// Outgoing webhook endpoints over the API (scope `admin`): create (the `whsec_` secret is shown
/// once), list, read, update (URL, description, event types, enabled), delete, rotate the secret
/// (the old one keeps signing beside the new for 24 hours); each endpoint's messages, every
/// message's attempts, and a replay.
struct WebhookRoutes: Sendable {
    let store: any ReadModel
    let endpoints: WebhookEndpointService
    let deliveries: DeliveryService
    let clock: any TollgateClock

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin)
            .post("webhook-endpoints", use: create)
            .get("webhook-endpoints", use: list)
            .get("webhook-endpoints/{id}", use: show)
            .patch("webhook-endpoints/{id}", use: update)
            .delete("webhook-endpoints/{id}", use: delete)
            .post("webhook-endpoints/{id}/rotate-secret", use: rotate)
            .get("webhook-endpoints/{id}/messages", use: messages)
            .get("webhook-messages/{id}/attempts", use: attempts)
            .post("webhook-messages/{id}/replay", use: replay)
    }

    struct CreateRequest: Decodable {
        let url: String
        let description: String?
        let eventTypes: [String]?
    }

    struct UpdateRequest: Decodable {
        let url: String?
        let description: String?
        let eventTypes: [String]?
        let enabled: Bool?
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let (endpoint, secret) = try await endpoints.create(
            url: body.url, description: body.description, eventTypes: body.eventTypes)
        return EditedResponse(status: .created, response: EndpointResponse(endpoint, secret: secret))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        ListResponse(data: try await endpoints.endpoints().map { EndpointResponse($0, secret: nil) })
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        EndpointResponse(try await endpoints.endpoint(id: try Validate.pathIdentifier(context)), secret: nil)
    }

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: UpdateRequest.self, context: context)
        let endpoint = try await endpoints.update(
            id: id,
            .init(url: body.url, description: body.description, eventTypes: body.eventTypes, enabled: body.enabled))
        return EndpointResponse(endpoint, secret: nil)
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await endpoints.delete(id: try Validate.pathIdentifier(context))
        return Response(status: .noContent)
    }

    @Sendable func rotate(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let (endpoint, secret) = try await endpoints.rotateSecret(id: try Validate.pathIdentifier(context))
        return EndpointResponse(endpoint, secret: secret)
    }

    @Sendable func messages(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let endpoint = try await endpoints.endpoint(id: try Validate.pathIdentifier(context))
        let entries = try await store.webhookMessages(endpointId: endpoint.id, limit: 100)
        return ListResponse(data: entries.map(MessageResponse.init))
    }

    @Sendable func attempts(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let attempts = try await store.webhookAttempts(messageId: id)
        return ListResponse(data: attempts.map(AttemptResponse.init))
    }

    /// Sends a webhook message again (delivered, failed or waiting), now, with the same id.
    @Sendable func replay(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let entry = try await deliveries.replay(id: id)
        return EditedResponse(status: .accepted, response: MessageResponse(entry))
    }
}

struct EndpointResponse: ResponseEncodable {
    let id: String
    let url: String
    @NullEncoded var description: String?
    /// Empty: every event type.
    let eventTypes: [String]
    /// Only in the answers that create it or rotate it.
    let secret: String?
    let enabled: Bool
    @NullEncoded var disabledReason: String?
    @NullEncoded var previousSecretExpiresAt: Date?
    let createdAt: Date
    let updatedAt: Date

    init(_ record: WebhookEndpointRecord, secret: String?) {
        id = record.id
        url = record.url
        description = record.description
        eventTypes = record.eventTypes
        self.secret = secret
        enabled = record.disabledAt == nil
        disabledReason = record.disabledReason
        previousSecretExpiresAt = record.previousSecretExpiresAt
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }
}

struct MessageResponse: ResponseEncodable {
    let id: String
    let eventType: String
    /// `pending`, `delivered` or `failed`.
    let status: String
    let attempts: Int
    @NullEncoded var lastError: String?
    @NullEncoded var nextAttemptAt: Date?
    let createdAt: Date
    @NullEncoded var deliveredAt: Date?
    /// The body sent, exactly.
    let payload: String

    init(_ entry: OutboxEntry) {
        id = entry.message.id
        let body = try? JSONSerialization.jsonObject(with: Data(entry.message.payload.utf8)) as? [String: Any]
        eventType = body?["type"] as? String ?? ""
        status = entry.message.deliveredAt != nil ? "delivered" : entry.failedAt != nil ? "failed" : "pending"
        attempts = entry.attempts
        lastError = entry.lastError
        nextAttemptAt = entry.message.deliveredAt == nil && entry.failedAt == nil ? entry.nextAttemptAt : nil
        createdAt = entry.message.createdAt
        deliveredAt = entry.message.deliveredAt
        payload = entry.message.payload
    }
}

struct AttemptResponse: ResponseEncodable {
    let attempt: Int
    let endpointId: String
    let at: Date
    @NullEncoded var status: Int?
    let latencyMs: Int64
    let response: String

    init(_ record: WebhookAttemptRecord) {
        attempt = record.attempt
        endpointId = record.endpointId
        at = record.at
        status = record.status
        latencyMs = record.latencyMillis
        response = record.response
    }
}
