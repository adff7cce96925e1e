import Foundation
import TollgateCore
import TollgateStorage

/// Messages sent again by hand, whichever door asks (the API's replay, the console's "send
/// again", the CLI's retry), each recorded in the audit trail with the change it makes.
public struct DeliveryService: Sendable {
    let store: any OutboxStore & WebhookStore & TransactionalStorage
    let clock: any TollgateClock

    public init(store: any OutboxStore & WebhookStore & TransactionalStorage, clock: any TollgateClock) {
        self.store = store
        self.clock = clock
    }

    /// Puts a message not delivered yet back in the queue now; false when there is none.
    public func retry(id: String) async throws -> Bool {
        let now = clock.now()
        return try await store.transaction { tx in
            guard try await tx.retryOutbox(id: id, at: now) else { return false }
            try await Audit.record(
                AuditChange("delivery.retried", target: "outbox:\(id)", after: ["queued": true]), in: tx)
            return true
        }
    }

    /// Sends a webhook message again, delivered or not.
    public func replay(id: String) async throws -> OutboxEntry {
        let now = clock.now()
        return try await store.transaction { tx in
            guard let entry = try await tx.replayWebhookMessage(id: id, at: now) else {
                throw DomainError(.notFound, "no webhook message \(id)", field: "id")
            }
            try await Audit.record(
                AuditChange("webhook_message.replayed", target: "webhook_message:\(id)", after: ["queued": true]),
                in: tx)
            return entry
        }
    }

    /// The console's "send again": a message not delivered yet goes back in the queue (true), a
    /// webhook message already delivered is sent again (false).
    @discardableResult
    public func sendAgain(id: String) async throws -> Bool {
        if try await retry(id: id) { return true }
        do {
            _ = try await replay(id: id)
            return false
        } catch let error as DomainError where error.code == .notFound {
            throw DomainError(.notFound, "no message \(id) to send again", field: "id")
        }
    }
}
