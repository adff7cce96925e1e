import Crypto
import Foundation
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Outgoing webhook endpoints, whichever door changes them (the API, the console): the URL is
/// checked against the sending policy, the `whsec_` secret is made and sealed here and shown
/// once, and a rotated-out secret keeps signing beside the new one for a day.
public struct WebhookEndpointService: Sendable {
    let store: any WebhookStore
    let box: SecretBox
    let policy: WebhookURLPolicy
    let clock: any TollgateClock

    /// How long a rotated-out secret still signs.
    public static let rotationOverlap: TimeInterval = 86_400

    public init(store: any WebhookStore, box: SecretBox, policy: WebhookURLPolicy, clock: any TollgateClock) {
        self.store = store
        self.box = box
        self.policy = policy
        self.clock = clock
    }

    /// What an update changes; nil leaves a field as it is.
    public struct Change: Sendable {
        public var url: String?
        public var description: String?
        public var eventTypes: [String]?
        public var enabled: Bool?

        public init(url: String? = nil, description: String? = nil, eventTypes: [String]? = nil, enabled: Bool? = nil) {
            self.url = url
            self.description = description
            self.eventTypes = eventTypes
            self.enabled = enabled
        }
    }

    /// A new endpoint and its secret (never shown again). With `idempotencyKey` (a form sent
    /// twice), the endpoint the key made already is answered, without its secret.
    public func create(url: String, description: String?, eventTypes: [String]?, idempotencyKey: String? = nil)
        async throws -> (endpoint: WebhookEndpointRecord, secret: String?)
    {
        let id =
            idempotencyKey.map { "we_" + Hex.encode(SHA256.hash(data: Data($0.utf8)).prefix(12)) }
            ?? Secrets.randomId(prefix: "we_", bytes: 12)
        if idempotencyKey != nil, let made = try await store.webhookEndpoint(id: id) { return (made, nil) }
        let secret = WebhookSignature.newSecret()
        let endpoint = WebhookEndpointRecord(
            id: id, url: try await checkedURL(url),
            description: try DisplayName.validated(optional: description, field: "description", maximum: 500),
            eventTypes: try Self.eventTypes(eventTypes), sealedSecret: try box.sealToken(secret),
            createdAt: clock.now())
        try await store.createWebhookEndpoint(endpoint)
        return (endpoint, secret)
    }

    public func endpoint(id: String) async throws -> WebhookEndpointRecord {
        guard let endpoint = try await store.webhookEndpoint(id: id) else { throw Self.notFound(id) }
        return endpoint
    }

    public func endpoints() async throws -> [WebhookEndpointRecord] { try await store.webhookEndpoints() }

    /// Enabling clears a disabled endpoint's reason and failure streak; disabling records that an
    /// operator did it.
    public func update(id: String, _ change: Change) async throws -> WebhookEndpointRecord {
        var endpoint = try await endpoint(id: id)
        if let url = change.url { endpoint.url = try await checkedURL(url) }
        if let description = change.description {
            endpoint.description = try DisplayName.validated(optional: description, field: "description", maximum: 500)
        }
        if let types = change.eventTypes { endpoint.eventTypes = try Self.eventTypes(types) }
        let now = clock.now()
        switch change.enabled {
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
        return endpoint
    }

    public func delete(id: String) async throws {
        guard try await store.deleteWebhookEndpoint(id: id) else { throw Self.notFound(id) }
    }

    /// A new secret; the old one signs beside it for `rotationOverlap`.
    public func rotateSecret(id: String) async throws -> (endpoint: WebhookEndpointRecord, secret: String) {
        var endpoint = try await endpoint(id: id)
        let secret = WebhookSignature.newSecret()
        let now = clock.now()
        endpoint.sealedPreviousSecret = endpoint.sealedSecret
        endpoint.previousSecretExpiresAt = now.addingTimeInterval(Self.rotationOverlap)
        endpoint.sealedSecret = try box.sealToken(secret)
        endpoint.updatedAt = now
        guard try await store.updateWebhookEndpoint(endpoint) else { throw Self.notFound(endpoint.id) }
        return (endpoint, secret)
    }

    private func checkedURL(_ text: String) async throws -> String {
        do {
            return try await policy.check(text).absoluteString
        } catch {
            throw DomainError.invalidField("url", error.description)
        }
    }

    /// Known event types, sorted and distinct; none: every type.
    public static func eventTypes(_ types: [String]?) throws -> [String] {
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
