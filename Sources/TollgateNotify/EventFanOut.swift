import Crypto
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
        case "invoice.overdue": kind = "invoice_overdue"
        // A receipt for Tollgate's own invoices when something was paid (one of nothing or less is
        // paid as it is issued); Stripe sends its customers receipts itself.
        case "invoice.paid":
            let paid = (JSONNumber.int64(data["totalMinor"]) ?? 0) > 0
            kind =
                paid && data["invoiceId"] != nil
                    && (data["provider"] as? String).flatMap(PaymentProviderKind.init(rawValue:)) == .manual
                ? "invoice_paid" : nil
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
        let body = (try? JSONSerialization.jsonObject(with: Data(event.payload.utf8))) as? [String: Any] ?? [:]
        if let kind = Self.mailKind(ofEvent: type, data: body["data"] as? [String: Any] ?? [:]) {
            let readers = try await recipients(subject: event.recipient)
            // A workspace's mail says it is about the workspace, not the reader's own account.
            var workspace: WorkspaceRecord?
            var plan: String?
            if let id = Subject.customerId(event.recipient) {
                workspace = try await store.workspace(id: id)
                // A quota alert leads to the plan above the customer's (the renderer finds it).
                if kind == "email.usage_alert" { plan = try await store.customer(id: id)?.planId }
            }
            let unsubscribed = try await store.unsubscribed(among: readers.map(\.address))
            for reader in readers where !unsubscribed.contains(reader.address.lowercased()) {
                // The event's body, in the reader's language.
                var payload = body
                payload["locale"] = reader.locale
                if let workspace {
                    payload["workspaceName"] = workspace.name
                    payload["workspaceId"] = workspace.id
                }
                if let plan { payload["plan"] = plan }
                let json = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
                messages.append(
                    OutboxMessage(
                        id: "mail_\(event.id.dropFirst(4))_\(Self.digest(reader.address.lowercased()))", kind: kind,
                        recipient: reader.address, payload: String(decoding: json, as: UTF8.self), createdAt: date))
            }
        }
        return messages
    }

    /// The address as 16 hex digits: the id (and so the `Message-ID`, whose left part may not hold
    /// an `@`) stays one per reader without carrying the address.
    static func digest(_ address: String) -> String {
        Hex.encode(SHA256.hash(data: Data(address.utf8)).prefix(8))
    }

    /// Who reads mail about `customer:<id>`, in which language: its address, and when the
    /// customer is a workspace, its owner and admins (each in their own customer's locale).
    /// Distinct, in a stable order.
    func recipients(subject: String) async throws -> [(address: String, locale: String?)] {
        guard let id = Subject.customerId(subject) else { return [] }
        var readers: [(address: String, locale: String?)] = []
        let customer = try await store.customer(id: id)
        if let email = customer?.email { readers.append((email, customer?.locale)) }
        if try await store.workspace(id: id) != nil {
            let admins = try await store.members(workspaceId: id).filter { $0.role >= .admin }.sorted {
                $0.role > $1.role
            }
            for admin in admins {
                // A user is also a customer, with the user's id: their locale is theirs.
                readers.append((admin.email, try await store.customer(id: admin.userId)?.locale ?? customer?.locale))
            }
        }
        var seen = Set<String>()
        return readers.filter { seen.insert($0.address.lowercased()).inserted }
    }
}
