import Foundation

/// A message of the outbox as the delivery service and operators see it: the message, how many
/// times it was tried, and where it stands.
public struct OutboxEntry: Sendable, Hashable {
    public let message: OutboxMessage
    /// Attempts started (a claim counts one, so a process killed mid-send still counts it).
    public let attempts: Int
    public let lastError: String?
    public let nextAttemptAt: Date?
    public let failedAt: Date?

    public init(message: OutboxMessage, attempts: Int, lastError: String?, nextAttemptAt: Date?, failedAt: Date?) {
        self.message = message
        self.attempts = attempts
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.failedAt = failedAt
    }
}

/// How the outbox stands, for operators and metrics: what waits, what failed for good, and how
/// long the oldest waiting message has waited.
public struct OutboxStats: Sendable, Hashable {
    /// Not delivered and not failed for good (first attempts and retries), by kind prefix
    /// (`email`, `webhook`, `event`).
    public let pending: [String: Int]
    public let failed: Int
    public let oldestPendingAt: Date?

    public init(pending: [String: Int], failed: Int, oldestPendingAt: Date?) {
        self.pending = pending
        self.failed = failed
        self.oldestPendingAt = oldestPendingAt
    }

    public var pendingTotal: Int { pending.values.reduce(0, +) }
}

/// The outbox is delivered in lanes that never wait for each other: e-mail (and events, whose
/// fan-out only writes rows) beside outgoing webhooks, whose peers may take seconds to fail.
public enum OutboxLane: Sendable, Hashable {
    case mail
    case webhooks(perRecipient: Int)

    /// E-mails a person is waiting for (a link to follow now, a security notice), sent before
    /// notices and reports.
    public static let transactionalMail = [
        "email.verify_email", "email.reset_password", "email.change_email", "email.account_exists",
        "email.workspace_invitation", "email.email_changed", "email.two_factor_enabled", "email.two_factor_disabled",
    ]
}

/// A page of the messages the console lists (e-mails, webhook messages, and events not fanned out
/// yet), newest first, filtered.
public struct DeliveryQuery: Sendable, Hashable {
    public enum State: String, Sendable, CaseIterable {
        /// Given up on.
        case failed
        /// Not delivered yet (waiting for a first try or a retry).
        case pending
        case delivered
    }

    public enum Channel: String, Sendable, CaseIterable {
        case email
        case webhook
        /// An event before its fan-out into e-mails and webhook messages.
        case event
    }

    public var state: State?
    public var channel: Channel?
    /// A webhook endpoint's id, or an e-mail address.
    public var recipient: String?
    /// Webhook messages of this event type only.
    public var eventType: String?
    /// The creation time (ms) and id of the last message of the previous page.
    public var after: (createdAtMillis: Int64, id: String)?
    public var limit = 50

    public init() {}

    public static func == (lhs: DeliveryQuery, rhs: DeliveryQuery) -> Bool {
        lhs.state == rhs.state && lhs.channel == rhs.channel && lhs.recipient == rhs.recipient
            && lhs.eventType == rhs.eventType && lhs.after?.createdAtMillis == rhs.after?.createdAtMillis
            && lhs.after?.id == rhs.after?.id && lhs.limit == rhs.limit
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(state)
        hasher.combine(channel)
        hasher.combine(recipient)
        hasher.combine(eventType)
        hasher.combine(after?.createdAtMillis)
        hasher.combine(after?.id)
        hasher.combine(limit)
    }
}

/// The outbox: effects (e-mails) written in the transaction that causes them, delivered at least
/// once by the delivery service.
public protocol OutboxStore: Sendable {
    /// The messages `query` asks for, newest first.
    func deliveries(_ query: DeliveryQuery) async throws -> [OutboxEntry]
    /// Writes messages on their own (most are written with the change that causes them).
    func enqueueOutbox(_ messages: [OutboxMessage]) async throws
    /// Takes up to `limit` messages of `lane` due at `now` for `node`, each for `leaseMillis`: in
    /// one transaction, skipping rows another node holds, so no message is sent by two nodes at
    /// once (a node that dies holding one frees it when the lease runs out). Counts an attempt
    /// each. The mail lane gives transactional mail first; the webhook lane takes at most
    /// `perRecipient` messages of one endpoint, oldest first, so a dead endpoint cannot fill it.
    func claimOutbox(node: String, lane: OutboxLane, now: Date, limit: Int, leaseMillis: Int64) async throws
        -> [OutboxEntry]
    /// The message went out: done, and an e-mail's payload (a sealed single-use token) is cleared;
    /// a webhook keeps its body, for replays.
    func markOutboxDelivered(id: String, at: Date) async throws
    /// An attempt failed: retried at `retryAt`, or, without one, failed for good.
    func markOutboxFailed(id: String, error: String, retryAt: Date?, at: Date) async throws
    /// Messages for operators, newest first: every one not delivered, or only those failed for good.
    func outboxEntries(failedOnly: Bool, limit: Int) async throws -> [OutboxEntry]
    func outboxStats() async throws -> OutboxStats
    /// Puts a failed (or waiting) message back in the queue now; false when there is no such
    /// message not yet delivered.
    func retryOutbox(id: String, at: Date) async throws -> Bool
}
