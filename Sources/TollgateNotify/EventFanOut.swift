import Foundation
import TollgateCore
import TollgateStorage

/// Turns an event of the outbox into what it must reach: one webhook message per endpoint that
/// listens for its type, and one e-mail per person it concerns (the customer's address and, for
/// a workspace, its owner and admins) who has not turned such mail off. Ids are derived from the
/// event, so a fan-out repeated after a crash writes nothing twice.
public struct EventFanOut: Sendable {
    public typealias Store = WebhookStore & MailPreferenceStore & CustomerStore & WorkspaceStore

    let store: any Store

    public init(store: any Store) { self.store = store }

    /// The e-mail kind an event is told by; nil for events only systems hear about.
    public static func mailKind(ofEvent type: String, data: [String: Any]) -> String? {
        let kind: String?
        switch type {
        case "usage.threshold_reached", "usage.limit_reached": kind = "usage_alert"
        case "customer.plan_changed": kind = "plan_changed"
        case "invoice.issued": kind = "invoice_issued"
        case "credits.low": kind = "credits_low"
        default:
            kind = SubscriptionChangeEvents.mailKind(
                type: type, previousStatus: data["previousStatus"] as? String, status: data["status"] as? String ?? "")
        }
        return kind.map { "email." + $0 }
    }

    public func messages(for event: OutboxMessage, type: String, at date: Date) async throws -> [OutboxMessage] {
        var messages = try await store.webhookEndpoints().filter { $0.listens(to: type) }.map { endpoint in
            OutboxMessage(
                id: "msg_\(event.id.dropFirst(4))_\(endpoint.id)", kind: OutboxKind.webhook, recipient: endpoint.id,
                payload: event.payload, createdAt: date)
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(event.payload.utf8))) as? [String: Any]
        if let kind = Self.mailKind(ofEvent: type, data: body?["data"] as? [String: Any] ?? [:]) {
            let addresses = try await recipients(subject: event.recipient)
            let unsubscribed = try await store.unsubscribed(among: addresses)
            for address in addresses where !unsubscribed.contains(address.lowercased()) {
                messages.append(
                    OutboxMessage(
                        id: "mail_\(event.id.dropFirst(4))_\(address.lowercased())", kind: kind, recipient: address,
                        payload: event.payload, createdAt: date))
            }
        }
        return messages
    }

    /// Who reads mail about `customer:<id>`: its address, and when the customer is a workspace,
    /// its owner and admins. Distinct, in a stable order.
    func recipients(subject: String) async throws -> [String] {
        guard subject.hasPrefix("customer:") else { return [] }
        let id = String(subject.dropFirst("customer:".count))
        var addresses: [String] = []
        if let email = try await store.customer(id: id)?.email { addresses.append(email) }
        if try await store.workspace(id: id) != nil {
            let members = try await store.members(workspaceId: id)
            addresses += members.filter { $0.role >= .admin }.sorted { $0.role > $1.role }.map(\.email)
        }
        var seen = Set<String>()
        return addresses.filter { seen.insert($0.lowercased()).inserted }
    }
}
