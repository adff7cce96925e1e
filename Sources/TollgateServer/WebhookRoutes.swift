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
    let store: any (WebhookStore & OutboxStore)
    let box: SecretBox
    let policy: WebhookURLPolicy
    let clock: any TollgateClock

    /// How long a rotated-out secret still signs.
    static let rotationOverlap: TimeInterval = 86_400

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
        let url = try await checkedURL(body.url)
        let secret = WebhookSignature.newSecret()
        let endpoint = WebhookEndpointRecord(
            id: Secrets.randomId(prefix: "we_", bytes: 12), url: url,
            description: try DisplayName.validated(optional: body.description, field: "description", maximum: 500),
            eventTypes: try Self.eventTypes(body.eventTypes), sealedSecret: try box.sealToken(secret),
            createdAt: clock.now())
        try await store.createWebhookEndpoint(endpoint)
        context.audit.change(
            target: "webhook_endpoint:\(endpoint.id)", before: nil, after: EndpointResponse(endpoint, secret: nil))
        return EditedResponse(status: .created, response: EndpointResponse(endpoint, secret: secret))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        ListResponse(data: try await store.webhookEndpoints().map { EndpointResponse($0, secret: nil) })
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        EndpointResponse(try await endpoint(context), secret: nil)
    }

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        var endpoint = try await endpoint(context)
        let body = try await request.decode(as: UpdateRequest.self, context: context)
        if let url = body.url { endpoint.url = try await checkedURL(url) }
        if let description = body.description {
            endpoint.description = try DisplayName.validated(optional: description, field: "description", maximum: 500)
        }
        if let types = body.eventTypes { endpoint.eventTypes = try Self.eventTypes(types) }
        let now = clock.now()
        switch body.enabled {
        case true?:
            endpoint.disabledAt = nil
            endpoint.disabledReason = nil
            endpoint.failingSince = nil
        case false? where endpoint.disabledAt == nil:
            endpoint.disabledAt = now
            endpoint.disabledReason = "operator"
        default: break
        }
        endpoint.updatedAt = now
        guard try await store.updateWebhookEndpoint(endpoint) else { throw Self.notFound(endpoint.id) }
        return EndpointResponse(endpoint, secret: nil)
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        guard try await store.deleteWebhookEndpoint(id: id) else { throw Self.notFound(id) }
        return Response(status: .noContent)
    }

    @Sendable func rotate(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        var endpoint = try await endpoint(context)
        let secret = WebhookSignature.newSecret()
        let now = clock.now()
        endpoint.sealedPreviousSecret = endpoint.sealedSecret
        endpoint.previousSecretExpiresAt = now.addingTimeInterval(Self.rotationOverlap)
        endpoint.sealedSecret = try box.sealToken(secret)
        endpoint.updatedAt = now
        guard try await store.updateWebhookEndpoint(endpoint) else { throw Self.notFound(endpoint.id) }
        return EndpointResponse(endpoint, secret: secret)
    }

    @Sendable func messages(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let endpoint = try await endpoint(context)
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
        guard let entry = try await store.replayWebhookMessage(id: id, at: clock.now()) else {
            throw DomainError(.notFound, "no webhook message \(id)", field: "id")
        }
        return EditedResponse(status: .accepted, response: MessageResponse(entry))
    }

    private func endpoint(_ context: AuthenticatedContext) async throws -> WebhookEndpointRecord {
        let id = try Validate.pathIdentifier(context)
        guard let endpoint = try await store.webhookEndpoint(id: id) else { throw Self.notFound(id) }
        return endpoint
    }

    private func checkedURL(_ text: String) async throws -> String {
        do {
            return try await policy.check(text).absoluteString
        } catch {
            throw DomainError.invalidField("url", error.description)
        }
    }

    static func eventTypes(_ types: [String]?) throws -> [String] {
        for (index, type) in (types ?? []).enumerated() where !OutboxEvent.types.contains(type) {
            throw DomainError.invalidField(
                "eventTypes[\(index)]",
                "unknown event type \(type); known: \(OutboxEvent.types.joined(separator: ", "))")
        }
        return Array(Set(types ?? [])).sorted()
    }

    static func notFound(_ id: String) -> DomainError {
        DomainError(.notFound, "no webhook endpoint \(id)", field: "id")
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
