import Foundation
import TollgateStorage
import TollgateWeb

/// How the deliveries page reads an outbox row.
enum DeliveryRows {
    /// `endpointURLs`: the webhook endpoints by id (all of them, so a message to a deleted one is
    /// known as such), and whether the reader may see their URLs (which may carry a token).
    static func row(_ entry: OutboxEntry, endpointURLs: [String: String], showURLs: Bool) -> DeliveryRow {
        let message = entry.message
        let webhook = message.kind == OutboxKind.webhook
        let event = message.kind.hasPrefix(OutboxEvent.kindPrefix)
        let state: DeliveryRow.State
        if let delivered = message.deliveredAt {
            state = .delivered(at: delivered)
        } else if let failed = entry.failedAt {
            state = .failed(at: failed)
        } else if let next = entry.nextAttemptAt, entry.attempts > 0 {
            state = .retry(at: next)
        } else {
            state = .waiting
        }
        // A retry means something for a message that failed or waits for its next try, unless its
        // endpoint is gone; a delivered webhook can be sent again; a message never tried is about
        // to be.
        let endpointExists = !webhook || endpointURLs[message.recipient] != nil
        let action: DeliveryRow.Action?
        switch state {
        case .failed, .retry: action = endpointExists ? .retryNow : nil
        case .delivered: action = webhook && endpointExists ? .sendAgain : nil
        case .waiting: action = nil
        }
        let topic =
            webhook
            ? eventType(message.payload)
            : String(message.kind.drop { $0 != "." }.dropFirst())
        return DeliveryRow(
            id: message.id, channel: webhook ? "webhook" : event ? "event" : "email", topic: topic,
            to: webhook && showURLs ? endpointURLs[message.recipient] ?? message.recipient : message.recipient,
            createdAt: message.createdAt, attempts: entry.attempts, state: state, lastError: entry.lastError,
            action: action)
    }

    /// The `type` of an event's body ("?" when it has none).
    static func eventType(_ payload: String) -> String {
        let body = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
        return body?["type"] as? String ?? "?"
    }
}
