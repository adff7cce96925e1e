import Foundation

/// A receiver of events over HTTP (Standard Webhooks). Its signing secrets are kept sealed; a
/// rotated-out secret keeps signing beside the new one until `previousSecretExpiresAt`.
public struct WebhookEndpointRecord: Sendable, Hashable {
    public var id: String
    public var url: String
    public var description: String?
    /// Event types sent to it; empty: every type.
    public var eventTypes: [String]
    public var sealedSecret: String
    public var sealedPreviousSecret: String?
    public var previousSecretExpiresAt: Date?
    public var disabledAt: Date?
    /// Why it was disabled: `operator`, `gone` (it answered 410), `failing` (5 days of failures).
    public var disabledReason: String?
    /// Since when every delivery to it has failed; nil while it answers.
    public var failingSince: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, url: String, description: String?, eventTypes: [String], sealedSecret: String, createdAt: Date
    ) {
        self.id = id
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    public func listens(to type: String) -> Bool {
        disabledAt == nil && (eventTypes.isEmpty || eventTypes.contains(type))
    }
}

/// One try at delivering a webhook message: what the endpoint answered, and how fast.
public struct WebhookAttemptRecord: Sendable, Hashable {
    public let messageId: String
    public let endpointId: String
    public let attempt: Int
    public let at: Date
    /// The HTTP status; nil when no answer came (refused, timed out, blocked address).
    public let status: Int?
    public let latencyMillis: Int64
    /// The first KiB of the answer's body, or why there was none.
    public let response: String

    public init(
        messageId: String, endpointId: String, attempt: Int, at: Date, status: Int?, latencyMillis: Int64,
        response: String
    ) {
        self.messageId = messageId
        self.endpointId = endpointId
        self.attempt = attempt
        self.at = at
        self.status = status
        self.latencyMillis = latencyMillis
        self.response = response
    }
}

/// How an endpoint answered, as the sender records it.
public enum WebhookEndpointHealth: Sendable, Equatable {
    /// It answered 2xx: whatever failures it had are forgotten.
    case answering
    /// It failed: since when is kept from the first failure.
    case failing
    /// Disabled by the sender (`gone`, `failing`).
    case disabled(reason: String)
}

/// Outbox kinds of what the fan-out of an event writes.
public enum OutboxKind {
    /// A webhook message: recipient is the endpoint's id, payload the event's body.
    public static let webhook = "webhook"
}

public protocol WebhookStore: Sendable {
    func createWebhookEndpoint(_ endpoint: WebhookEndpointRecord) async throws
    func webhookEndpoint(id: String) async throws -> WebhookEndpointRecord?
    /// Every endpoint, oldest first.
    func webhookEndpoints() async throws -> [WebhookEndpointRecord]
    /// Replaces the stored endpoint; false when there is none with its id.
    func updateWebhookEndpoint(_ endpoint: WebhookEndpointRecord) async throws -> Bool
    /// Deletes the endpoint and its waiting messages; false when there was none.
    func deleteWebhookEndpoint(id: String) async throws -> Bool
    func recordWebhookAttempt(_ attempt: WebhookAttemptRecord) async throws
    /// Records how the endpoint answered, touching nothing else: an operator may be editing it
    /// (a rotation read before and written after would otherwise be lost).
    func recordWebhookEndpointHealth(id: String, _ health: WebhookEndpointHealth, at date: Date) async throws
    /// The attempts at one message, in order.
    func webhookAttempts(messageId: String) async throws -> [WebhookAttemptRecord]
    /// The messages sent (or to send) to an endpoint, newest first.
    func webhookMessages(endpointId: String, limit: Int) async throws -> [OutboxEntry]
    /// Puts a webhook message back in the queue now, delivered or not (attempts go on counting:
    /// a replay that fails is not retried again); nil when there is no such webhook message.
    func replayWebhookMessage(id: String, at date: Date) async throws -> OutboxEntry?
    /// An event told: writes what it fans out to (each at most once, by id) and marks the event
    /// delivered, in one transaction.
    func fanOut(eventId: String, into messages: [OutboxMessage], at date: Date) async throws
}

/// Whether people want the mail that is not strictly needed (alerts, notices): transactional mail
/// (verification, reset, security) is sent whatever this says.
public protocol MailPreferenceStore: Sendable {
    /// Addresses (lowercased) among `addresses` that turned non-essential mail off.
    func unsubscribed(among addresses: [String]) async throws -> Set<String>
    func setUnsubscribed(_ address: String, _ unsubscribed: Bool, at date: Date) async throws
}
