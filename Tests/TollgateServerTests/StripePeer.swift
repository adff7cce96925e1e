import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// A stand-in for Stripe's API on loopback that checks requests the way Stripe does: the secret
/// key, form encoding, the fields each endpoint requires, and no field it does not know. It
/// answers in Stripe's shapes and records what it received.
final class StripePeer: Sendable {
    struct Received: Sendable {
        let method: String
        let path: String
        let form: [String: String]
        let idempotencyKey: String?
    }

    enum Acceptance {
        case accepted([String: String])
        case refused(Response)
    }

    private let received = Mutex<[Received]>([])
    /// The price of each subscription's single plan item, as the last update left it.
    private let subscriptionPrices = Mutex<[String: String]>([:])
    /// The Tollgate customer each subscription's metadata names (`u1` unless set).
    let subscriptionOwners = Mutex<[String: String]>([:])
    /// Every subscription the peer serves runs from this instant, for 30 days.
    static let periodStart = 1_779_000_000
    static let prices = [
        "pro_monthly_eur": "price_pro_m_eur", "business_monthly_eur": "price_business_m_eur",
        "enterprise_monthly_eur": "price_ent_m_eur",
        "pack_50_eur": "price_pack_50_eur", "collaborators_5_monthly_eur": "price_collab5_m_eur",
    ]

    /// A subscription of `cus_test_1` (Tollgate's `u1`) in Stripe's shape, on `price`.
    static func subscription(id: String, price: String, owner: String? = nil) -> [String: Any] {
        let lookupKey = prices.first { $0.value == price }?.key ?? price
        return [
            "id": id, "object": "subscription", "customer": "cus_test_1", "status": "active",
            "metadata": ["tollgate_customer": owner ?? "u1"],
            "current_period_start": periodStart, "current_period_end": periodStart + 30 * 86_400,
            "cancel_at_period_end": false,
            "items": [
                "object": "list",
                "data": [
                    [
                        "id": "si_1", "object": "subscription_item", "quantity": 1,
                        "price": [
                            "id": price, "lookup_key": lookupKey, "currency": "eur", "recurring": ["interval": "month"],
                        ],
                    ] as [String: Any]
                ],
            ] as [String: Any],
        ]
    }
    var requests: [Received] { received.withLock { $0 } }

    /// Fields Stripe's API reference defines for what Tollgate sends (a subset is enough: an
    /// unknown one is refused, as Stripe refuses it).
    static let checkoutFields: Set<String> = [
        "mode", "customer", "customer_email", "client_reference_id", "success_url", "cancel_url",
        "line_items[0][price]",
        "line_items[0][quantity]", "line_items[1][price]", "line_items[1][quantity]", "metadata[tollgate_customer]",
        "subscription_data[metadata][tollgate_customer]", "subscription_data[trial_period_days]",
        "payment_method_collection",
        "metadata[tollgate_credit_pack]",
        "automatic_tax[enabled]", "tax_id_collection[enabled]", "customer_update[name]", "customer_update[address]",
    ]

    static func parse(_ body: String) -> [(String, String)] {
        body.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let peer = self
        @Sendable func stripeError(_ message: String, status: HTTPResponse.Status = .badRequest) -> Response {
            let body = #"{"error":{"type":"invalid_request_error","message":"\#(message)"}}"#
            return Response(
                status: status, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        @Sendable func json(_ object: [String: Any]) -> Response {
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        @Sendable func accept(
            _ request: Request, _ context: BasicRequestContext, allowed: Set<String>?, required: [String]
        ) async throws -> Acceptance {
            guard request.headers[.authorization]?.hasPrefix("Bearer sk_test_") == true else {
                return .refused(stripeError("Invalid API Key provided", status: .unauthorized))
            }
            var fields: [(String, String)] = []
            if request.method == .get {
                fields = Self.parse(request.uri.query ?? "")
            } else if request.method == .post {
                guard request.headers[.contentType] == "application/x-www-form-urlencoded" else {
                    return .refused(stripeError("expected a form body"))
                }
                fields = Self.parse(String(buffer: try await request.body.collect(upTo: 1 << 16)))
            }
            let form = Dictionary(fields, uniquingKeysWith: { $1 })
            if let allowed, let unknown = form.keys.first(where: { !allowed.contains($0) }) {
                return .refused(stripeError("Received unknown parameter: \(unknown)"))
            }
            if let missing = required.first(where: { (form[$0] ?? "").isEmpty }) {
                return .refused(stripeError("Missing required param: \(missing)."))
            }
            peer.received.withLock {
                $0.append(
                    Received(
                        method: request.method.rawValue, path: request.uri.path, form: form,
                        idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!]))
            }
            return .accepted(form)
        }
        router.post("v1/customers") { request, context in
            switch try await accept(
                request, context, allowed: ["email", "metadata[tollgate_customer]", "metadata[tollgate_workspace]"],
                required: [])
            {
            case .refused(let response): return response
            case .accepted: return json(["id": "cus_test_1", "object": "customer"])
            }
        }
        router.get("v1/prices") { request, context in
            switch try await accept(
                request, context, allowed: ["lookup_keys[0]", "active", "limit"], required: ["lookup_keys[0]"])
            {
            case .refused(let response): return response
            case .accepted(let form):
                let data: [[String: Any]] =
                    Self.prices[form["lookup_keys[0]"]!].map {
                        [["id": $0, "object": "price", "lookup_key": form["lookup_keys[0]"]!]]
                    } ?? []
                return json(["object": "list", "data": data])
            }
        }
        router.post("v1/checkout/sessions") { request, context in
            switch try await accept(
                request, context, allowed: Self.checkoutFields,
                required: ["mode", "success_url", "line_items[0][price]", "line_items[0][quantity]"])
            {
            case .refused(let response): return response
            case .accepted(let form):
                guard ["payment", "setup", "subscription"].contains(form["mode"]!) else {
                    return stripeError("Invalid mode")
                }
                if let days = form["subscription_data[trial_period_days]"],
                    Int(days).map({ $0 < 1 || $0 > 730 }) ?? true
                {
                    return stripeError("Invalid trial_period_days")
                }
                if let collection = form["payment_method_collection"], !["always", "if_required"].contains(collection) {
                    return stripeError("Invalid payment_method_collection")
                }
                return json([
                    "id": "cs_test_1", "object": "checkout.session",
                    "url": "https://checkout.stripe.com/c/pay/cs_test_1", "mode": form["mode"]!,
                ])
            }
        }
        router.post("v1/billing_portal/sessions") { request, context in
            switch try await accept(request, context, allowed: ["customer", "return_url"], required: ["customer"]) {
            case .refused(let response): return response
            case .accepted:
                return json([
                    "id": "bps_1", "object": "billing_portal.session",
                    "url": "https://billing.stripe.com/p/session/test_1",
                ])
            }
        }
        router.get("v1/subscriptions/{id}") { request, context in
            switch try await accept(request, context, allowed: [], required: []) {
            case .refused(let response): return response
            case .accepted:
                let id = try context.parameters.require("id")
                return json(
                    Self.subscription(
                        id: id, price: peer.subscriptionPrices.withLock { $0[id] } ?? "price_pro_m_eur",
                        owner: peer.subscriptionOwners.withLock { $0[id] }))
            }
        }
        router.post("v1/subscriptions/{id}") { request, context in
            let allowed: Set<String> = [
                "cancel_at_period_end", "items[0][id]", "items[0][price]", "items[0][quantity]", "proration_behavior",
                "metadata[tollgate_change]", "trial_end",
            ]
            switch try await accept(request, context, allowed: allowed, required: []) {
            case .refused(let response): return response
            case .accepted(let form):
                let id = try context.parameters.require("id")
                if let behavior = form["proration_behavior"],
                    !["always_invoice", "create_prorations", "none"].contains(behavior)
                {
                    return stripeError("Invalid proration_behavior")
                }
                if let end = form["trial_end"], end != "now", Int(end) == nil {
                    return stripeError("Invalid trial_end: must be 'now' or a timestamp")
                }
                if let price = form["items[0][price]"] {
                    guard form["items[0][id]"] == "si_1" else {
                        return stripeError("No such subscription item", status: .notFound)
                    }
                    guard Self.prices.values.contains(price) else {
                        return stripeError("No such price: '\(price)'", status: .notFound)
                    }
                    peer.subscriptionPrices.withLock { $0[id] = price }
                }
                var object = Self.subscription(
                    id: id, price: peer.subscriptionPrices.withLock { $0[id] } ?? "price_pro_m_eur",
                    owner: peer.subscriptionOwners.withLock { $0[id] })
                if form["cancel_at_period_end"] == "true" { object["cancel_at_period_end"] = true }
                return json(object)
            }
        }
        router.post("v1/invoiceitems") { request, context in
            switch try await accept(
                request, context, allowed: ["customer", "invoice", "amount", "currency", "description"],
                required: ["customer", "currency"])
            {
            case .refused(let response): return response
            case .accepted(let form):
                guard form["amount"].flatMap(Int.init) != nil else {
                    return stripeError("Invalid integer: \(form["amount"] ?? "")")
                }
                return json([
                    "id": "ii_\(peer.requests.count)", "object": "invoiceitem", "invoice": form["invoice"] ?? NSNull(),
                ])
            }
        }
        router.delete("v1/subscriptions/{id}") { request, context in
            switch try await accept(request, context, allowed: [], required: []) {
            case .refused(let response): return response
            case .accepted:
                return json([
                    "id": try context.parameters.require("id"), "object": "subscription", "status": "canceled",
                ])
            }
        }
        return router
    }

    /// Runs the peer on a loopback port for the duration of `body`.
    func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body(try #require(client.port))
        }
    }
}
