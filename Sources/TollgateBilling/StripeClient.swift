import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TollgateCore

/// Stripe's HTTP API, form-encoded as Stripe takes it. The base URL is configurable
/// (`STRIPE_API_BASE`) so tests can point it at a local peer.
public struct StripeClient: Sendable {
    public let secretKey: String
    public let baseURL: String
    private let http: HTTPClient

    public init(secretKey: String, baseURL: String = "https://api.stripe.com", http: HTTPClient = .shared) {
        self.secretKey = secretKey
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Stripe answered with an error; its message and type.
        case stripe(status: Int, type: String?, message: String)
        case unreadable(String)

        public var description: String {
            switch self {
            case .stripe(let status, let type, let message): return "Stripe \(status) \(type ?? ""): \(message)"
            case .unreadable(let detail): return "unreadable answer from Stripe: \(detail)"
            }
        }
    }

    /// `application/x-www-form-urlencoded`, keys like `line_items[0][price]`, in the given order.
    static func formEncode(_ fields: [(String, String)]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return fields.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)"
                + "=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }

    func send(_ method: HTTPMethod, _ path: String, form: [(String, String)] = [], idempotencyKey: String? = nil)
        async throws -> [String: Any]
    {
        var url = baseURL + path
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method == .GET, !form.isEmpty {
            url += "?" + Self.formEncode(form)
            request.url = url
        } else if !form.isEmpty {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else {
            throw Failure.unreadable("status \(response.status.code)")
        }
        guard (200..<300).contains(response.status.code) else {
            let error = object["error"] as? [String: Any]
            throw Failure.stripe(
                status: Int(response.status.code), type: error?["type"] as? String,
                message: error?["message"] as? String ?? "error")
        }
        return object
    }

    private func string(_ object: [String: Any], _ key: String) throws -> String {
        guard let value = object[key] as? String else { throw Failure.unreadable("no \(key)") }
        return value
    }

    /// A Stripe customer carrying the Tollgate customer (or workspace) in its metadata.
    public func createCustomer(tollgateCustomer: String, email: String?, workspace: Bool) async throws -> String {
        var form = [("metadata[\(workspace ? "tollgate_workspace" : "tollgate_customer")]", tollgateCustomer)]
        if let email { form.append(("email", email)) }
        return try string(
            try await send(.POST, "/v1/customers", form: form, idempotencyKey: "tollgate-customer-\(tollgateCustomer)"),
            "id")
    }

    /// A customer's metadata (where `tollgate_customer` / `tollgate_workspace` live).
    public func customerMetadata(id: String) async throws -> [String: String] {
        (try await send(.GET, "/v1/customers/\(id)")["metadata"] as? [String: String]) ?? [:]
    }

    /// The id of the active price with this lookup key (such as `pro_monthly_eur`).
    public func priceId(lookupKey: String) async throws -> String? {
        let list = try await send(
            .GET, "/v1/prices", form: [("lookup_keys[0]", lookupKey), ("active", "true"), ("limit", "1")])
        return ((list["data"] as? [[String: Any]])?.first)?["id"] as? String
    }

    public struct CheckoutSession: Sendable {
        public let id: String
        public let url: String
    }

    public struct CheckoutRequest: Sendable {
        public var customer: String
        public var tollgateCustomer: String
        public var priceId: String
        public var quantity: Int
        /// Further line items: add-ons bought with the plan (price id, quantity).
        public var addOnItems: [(priceId: String, quantity: Int)] = []
        public var trialDays: Int?
        /// Collect a card only when needed (a trial without a card).
        public var requirePaymentMethod: Bool
        public var successURL: String
        public var cancelURL: String
        /// Stripe Tax computes the VAT, and Checkout collects the buyer's VAT number.
        public var automaticTax = false
        public var taxIdCollection = false

        public init(
            customer: String, tollgateCustomer: String, priceId: String, quantity: Int, trialDays: Int?,
            requirePaymentMethod: Bool, successURL: String, cancelURL: String
        ) {
            self.customer = customer
            self.tollgateCustomer = tollgateCustomer
            self.priceId = priceId
            self.quantity = quantity
            self.trialDays = trialDays
            self.requirePaymentMethod = requirePaymentMethod
            self.successURL = successURL
            self.cancelURL = cancelURL
        }
    }

    /// A Checkout Session in subscription mode.
    public func createCheckoutSession(_ checkout: CheckoutRequest, idempotencyKey: String) async throws
        -> CheckoutSession
    {
        var form: [(String, String)] = [
            ("mode", "subscription"),
            ("customer", checkout.customer),
            ("client_reference_id", checkout.tollgateCustomer),
            ("line_items[0][price]", checkout.priceId),
            ("line_items[0][quantity]", String(checkout.quantity)),
        ]
        for (index, item) in checkout.addOnItems.enumerated() {
            form.append(("line_items[\(index + 1)][price]", item.priceId))
            form.append(("line_items[\(index + 1)][quantity]", String(item.quantity)))
        }
        form += [
            ("success_url", checkout.successURL),
            ("cancel_url", checkout.cancelURL),
            ("metadata[tollgate_customer]", checkout.tollgateCustomer),
            ("subscription_data[metadata][tollgate_customer]", checkout.tollgateCustomer),
        ]
        if let days = checkout.trialDays {
            form.append(("subscription_data[trial_period_days]", String(days)))
            if !checkout.requirePaymentMethod { form.append(("payment_method_collection", "if_required")) }
        }
        if checkout.automaticTax { form.append(("automatic_tax[enabled]", "true")) }
        if checkout.taxIdCollection { form.append(("tax_id_collection[enabled]", "true")) }
        // The customer exists already: the business name and the address entered at checkout are
        // saved on it, which tax ids and Stripe Tax need.
        if checkout.taxIdCollection { form.append(("customer_update[name]", "auto")) }
        if checkout.automaticTax || checkout.taxIdCollection { form.append(("customer_update[address]", "auto")) }
        let session = try await send(.POST, "/v1/checkout/sessions", form: form, idempotencyKey: idempotencyKey)
        return CheckoutSession(id: try string(session, "id"), url: try string(session, "url"))
    }

    /// A Checkout Session in payment mode for a one-off purchase (a credit pack).
    public func createPaymentCheckout(
        customer: String, tollgateCustomer: String, priceId: String, metadata: [String: String], successURL: String,
        cancelURL: String, idempotencyKey: String
    ) async throws -> CheckoutSession {
        var form: [(String, String)] = [
            ("mode", "payment"), ("customer", customer), ("client_reference_id", tollgateCustomer),
            ("line_items[0][price]", priceId), ("line_items[0][quantity]", "1"),
            ("success_url", successURL), ("cancel_url", cancelURL),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form.append(("metadata[\(key)]", value)) }
        let session = try await send(.POST, "/v1/checkout/sessions", form: form, idempotencyKey: idempotencyKey)
        return CheckoutSession(id: try string(session, "id"), url: try string(session, "url"))
    }

    /// A customer-portal session.
    public func createPortalSession(customer: String, returnURL: String) async throws -> String {
        try string(
            try await send(
                .POST, "/v1/billing_portal/sessions", form: [("customer", customer), ("return_url", returnURL)]), "url")
    }

    public func subscription(id: String) async throws -> [String: Any] {
        try await send(.GET, "/v1/subscriptions/\(id)")
    }

    /// Moves one subscription item to another price. `always_invoice` charges the prorated
    /// difference now (an upgrade); `none` bills the new price from the next period (a downgrade).
    public func updateSubscriptionItem(
        subscription: String, item: String, priceId: String, quantity: Int, prorationBehavior: String,
        endingTrial: Bool = false, idempotencyKey: String
    ) async throws -> [String: Any] {
        try await send(
            .POST, "/v1/subscriptions/\(subscription)",
            form: [
                ("items[0][id]", item), ("items[0][price]", priceId), ("items[0][quantity]", String(quantity)),
                ("proration_behavior", prorationBehavior), ("metadata[tollgate_change]", idempotencyKey),
            ] + (endingTrial ? [("trial_end", "now")] : []), idempotencyKey: idempotencyKey)
    }

    /// A one-off line added to a draft invoice (an overage).
    public func createInvoiceItem(
        customer: String, invoice: String, amount: Int64, currency: Currency, description: String,
        idempotencyKey: String
    ) async throws {
        _ = try await send(
            .POST, "/v1/invoiceitems",
            form: [
                ("customer", customer), ("invoice", invoice), ("amount", String(amount)),
                ("currency", currency.code.lowercased()),
                ("description", description),
            ], idempotencyKey: idempotencyKey)
    }

    /// Cancels at the end of the period, or at once.
    public func cancelSubscription(id: String, atPeriodEnd: Bool) async throws {
        if atPeriodEnd {
            _ = try await send(.POST, "/v1/subscriptions/\(id)", form: [("cancel_at_period_end", "true")])
        } else {
            _ = try await send(.DELETE, "/v1/subscriptions/\(id)")
        }
    }
}
