import Crypto
import Foundation
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Outgoing webhook endpoints, whichever door changes them (the API, the console): the URL is
/// checked against the sending policy, the `whsec_` secret is made and sealed here and shown
/// once, and a rotated-out secret keeps signing beside the new one for a day.
public struct WebhookEndpointService: Sendable {
    let store: any WebhookStore & TransactionalStorage
    let box: SecretBox
    let policy: WebhookURLPolicy
    let clock: any TollgateClock

    /// How long a rotated-out secret still signs.
    public static let rotationOverlap: TimeInterval = 86_400

    public init(
        store: any WebhookStore & TransactionalStorage, box: SecretBox, policy: WebhookURLPolicy,
        clock: any TollgateClock
    ) {
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
        try await store.transaction { tx in
            try await tx.createWebhookEndpoint(endpoint)
            try await Audit.record(
                AuditChange("webhook_endpoint.created", target: Self.target(id), after: AuditedEndpoint(endpoint)),
                in: tx)
        }
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
        // Checked before the transaction: the policy may resolve the host's name.
        var url: String?
        if let given = change.url { url = try await checkedURL(given) }
        let description = try change.description.map {
            try DisplayName.validated(optional: $0, field: "description", maximum: 500)
        }
        let types = try change.eventTypes.map { try Self.eventTypes($0) }
        let now = clock.now()
        let checked = url
        return try await changing(id: id, "webhook_endpoint.changed") { endpoint in
            if let checked { endpoint.url = checked }
            if let description { endpoint.description = description }
            if let types { endpoint.eventTypes = types }
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
        }
    }

    public func delete(id: String) async throws {
        try await store.transaction { tx in
            guard let before = try await tx.webhookEndpoint(id: id), try await tx.deleteWebhookEndpoint(id: id) else {
                throw Self.notFound(id)
            }
            try await Audit.record(
                AuditChange("webhook_endpoint.deleted", target: Self.target(id), before: AuditedEndpoint(before)),
                in: tx)
        }
    }

    /// A new secret; the old one signs beside it for `rotationOverlap`.
    public func rotateSecret(id: String) async throws -> (endpoint: WebhookEndpointRecord, secret: String) {
        let secret = WebhookSignature.newSecret()
        let sealed = try box.sealToken(secret)
        let now = clock.now()
        let endpoint = try await changing(id: id, "webhook_endpoint.secret_rotated") { endpoint in
            endpoint.sealedPreviousSecret = endpoint.sealedSecret
            endpoint.previousSecretExpiresAt = now.addingTimeInterval(Self.rotationOverlap)
            endpoint.sealedSecret = sealed
            endpoint.updatedAt = now
        }
        return (endpoint, secret)
    }

    /// Reads the endpoint, applies `change` and writes it with its audit entry, in one transaction.
    private func changing(
        id: String, _ action: String, _ change: @escaping @Sendable (inout WebhookEndpointRecord) -> Void
    )
        async throws -> WebhookEndpointRecord
    {
        try await store.transaction { tx in
            guard let before = try await tx.webhookEndpoint(id: id) else { throw Self.notFound(id) }
            var endpoint = before
            change(&endpoint)
            guard try await tx.updateWebhookEndpoint(endpoint) else { throw Self.notFound(id) }
            try await Audit.record(
                AuditChange(
                    action, target: Self.target(id), before: AuditedEndpoint(before), after: AuditedEndpoint(endpoint)),
                in: tx)
            return endpoint
        }
    }

    static func target(_ id: String) -> String { "webhook_endpoint:\(id)" }

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

/// An endpoint as the audit trail records it: never its secrets, only when the previous one stops.
struct AuditedEndpoint: Encodable {
    let id: String
    let url: String
    let description: String?
    let eventTypes: [String]
    let enabled: Bool
    let disabledReason: String?
    let previousSecretExpiresAt: Date?

    init(_ endpoint: WebhookEndpointRecord) {
        id = endpoint.id
        url = endpoint.url
        description = endpoint.description
        eventTypes = endpoint.eventTypes
        enabled = endpoint.disabledAt == nil
        disabledReason = endpoint.disabledReason
        previousSecretExpiresAt = endpoint.previousSecretExpiresAt
    }
}
