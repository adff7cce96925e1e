import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// The multi-platform SaaS's payment sequence against localstripe, a real Stripe emulator: the product's
/// backend creates the Stripe customer, a payment method and the subscription through Stripe's
/// API; localstripe's own signed webhooks then drive Tollgate's state.
@Suite(.serialized) struct LocalStripeTests {
    /// Starts localstripe and returns once it says which port it listens on.
    static func startLocalStripe() async throws -> (ChildProcess, Int) {
        try await PeerProcess.startListening(script: Repository.path("Tests/peers/localstripe_server.py"))
    }

    /// Calls Stripe's API (on localstripe) as a product's backend would, form-encoded.
    static func stripe(_ base: String, _ method: String, _ path: String, _ form: [(String, String)] = []) async throws
        -> [String: Any]
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(
            name: "Authorization", value: "Basic " + Data("sk_test_tollgate:".utf8).base64EncodedString())
        if !form.isEmpty {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            request.body = .bytes(
                ByteBuffer(
                    string: form.map {
                        "\($0.addingPercentEncoding(withAllowedCharacters: allowed)!)"
                            + "=\($1.addingPercentEncoding(withAllowedCharacters: allowed)!)"
                    }.joined(separator: "&")))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = Data(try await response.body.collect(upTo: 16 << 20).readableBytesView)
        // Some of localstripe's configuration routes answer with an empty body.
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    /// Waits, a bounded number of times, for `condition` (webhooks arrive about a second later).
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<200 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// localstripe on loopback (clean), a Tollgate server pointed at it whose webhook localstripe
    /// calls, an admin key, and the customer `u1`; `body` gets localstripe's base URL.
    static func withLocalStripe(
        serverArguments: [String] = [],
        _ body: (_ base: String, _ server: ServerProcess, _ key: String) async throws -> Void
    ) async throws {
        let (localstripe, stripePort) = try await startLocalStripe()
        // SIGKILL: its state is thrown away at the next start anyway.
        defer {
            localstripe.stop()
            // Its state file's path is fixed; nothing of it is needed once the test is over.
            try? FileManager.default.removeItem(atPath: "/tmp/localstripe.pickle")
        }
        let base = "http://127.0.0.1:\(stripePort)"
        // localstripe keeps its state in /tmp/localstripe.pickle across runs: start clean.
        _ = try await stripe(base, "DELETE", "/_config/data")
        let data = NSTemporaryDirectory() + "tollgate-localstripe-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--data-dir", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try await ServerProcess.start(
            ["--data-dir", data] + serverArguments,
            environment: [
                "STRIPE_SECRET_KEY": "sk_test_tollgate", "STRIPE_API_BASE": base,
                "STRIPE_WEBHOOK_SECRET": "whsec_localstripe",
            ])
        defer { server.stop() }
        _ = try await stripe(
            base, "POST", "/_config/webhooks/tollgate",
            [
                ("url", server.baseURL.appendingPathComponent("v1/billing/webhook").absoluteString),
                ("secret", "whsec_localstripe"),
            ])
        #expect(
            try await server.request("POST", "v1/customers", key: key, json: #"{"id":"u1","email":"ada@example.com"}"#)
                .status == 201)
        try await body(base, server, key)
    }

    /// A card payment method (localstripe's test numbers decide how it behaves).
    static func card(_ base: String, _ number: String) async throws -> String {
        try #require(
            try await stripe(
                base, "POST", "/v1/payment_methods",
                [
                    ("type", "card"), ("card[number]", number), ("card[exp_month]", "12"), ("card[exp_year]", "2030"),
                    ("card[cvc]", "123"),
                ])["id"] as? String)
    }

    /// The product's backend: a legacy plan named by its lookup id, a customer carrying our id,
    /// and a working card as its default; returns the Stripe customer and the card.
    static func payingCustomer(_ base: String) async throws -> (customer: String, card: String) {
        _ = try await stripe(
            base, "POST", "/v1/plans",
            [
                ("id", "pro_monthly_eur"), ("amount", "990"), ("currency", "eur"), ("interval", "month"),
                ("product[name]", "Memento Pro"),
            ])
        let customer = try #require(
            try await stripe(
                base, "POST", "/v1/customers", [("email", "ada@example.com"), ("metadata[tollgate_customer]", "u1")])[
                    "id"] as? String)
        let card = try await card(base, "4242424242424242")
        _ = try await stripe(base, "POST", "/v1/payment_methods/\(card)/attach", [("customer", customer)])
        _ = try await stripe(
            base, "POST", "/v1/customers/\(customer)", [("invoice_settings[default_payment_method]", card)])
        return (customer, card)
    }

    @Test func aSubscriptionMadeThroughStripesAPIDrivesEntitlementsThroughItsWebhooks() async throws {
        try await Self.withLocalStripe { base, server, key in
            func plan() async throws -> String? {
                let (_, body) = try await server.request("GET", "v1/customers/u1", key: key)
                return (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["plan"] as? String
            }
            let (customer, _) = try await Self.payingCustomer(base)
            let subscription = try await Self.stripe(
                base, "POST", "/v1/subscriptions", [("customer", customer), ("items[0][plan]", "pro_monthly_eur")])
            #expect(subscription["status"] as? String == "active")
            try await Self.eventually("the plan to follow the subscription webhook") { try await plan() == "pro" }
            // Localstripe's invoice for it, mirrored from its invoice.* webhooks.
            try await Self.eventually("Stripe's paid invoice to be mirrored") {
                let (_, body) = try await server.request("GET", "v1/customers/u1/invoices", key: key)
                let invoices = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["invoices"]
                return (invoices as? [[String: Any]])?.contains {
                    $0["provider"] as? String == "stripe" && $0["status"] as? String == "paid"
                        && $0["total"] as? Int == 990 && $0["currency"] as? String == "EUR"
                } == true
            }

            // Cancelled through Tollgate: Tollgate calls Stripe, Stripe's webhook moves the plan.
            let (status, _) = try await server.request(
                "POST", "v1/billing/cancel", key: key, json: #"{"customer":"u1","atPeriodEnd":false}"#)
            #expect(status == 200)
            try await Self.eventually("the plan to fall back after the cancellation webhook") {
                try await plan() == "basic"
            }
        }
    }

    /// A renewal invoice whose payment fails (the bank asks for 3-D Secure and the customer
    /// fails it): localstripe's `invoice.payment_failed` puts the subscription past due, the plan
    /// stays through the grace period, then falls back to free; paying the invoice recovers it.
    @Test func aFailedPaymentGoesPastDueFallsBackToFreeAndRecoversWhenPaid() async throws {
        // A grace period of 8 seconds, checked every second, so the test sees it run out (and
        // still sees the past-due state between, on a machine busy with the rest of the suite).
        try await Self.withLocalStripe(serverArguments: [
            "--past-due-grace-seconds", "8", "--billing-tick-seconds", "1",
        ]) { base, server, key in
            func state() async throws -> (plan: String?, status: String?) {
                let (_, customer) = try await server.request("GET", "v1/customers/u1", key: key)
                let (_, list) = try await server.request("GET", "v1/customers/u1/subscriptions", key: key)
                let subscriptions =
                    (try JSONSerialization.jsonObject(with: list) as? [String: Any])?["subscriptions"]
                    as? [[String: Any]]
                return (
                    (try JSONSerialization.jsonObject(with: customer) as? [String: Any])?["plan"] as? String,
                    subscriptions?.last?["status"] as? String
                )
            }
            let (customer, good) = try await Self.payingCustomer(base)
            let subscription = try #require(
                try await Self.stripe(
                    base, "POST", "/v1/subscriptions", [("customer", customer), ("items[0][plan]", "pro_monthly_eur")])[
                        "id"] as? String)
            try await Self.eventually("the subscription to start") { try await state() == ("pro", "active") }

            // The renewal: the card on file now needs 3-D Secure, which the customer fails.
            let secure = try await Self.card(base, "4000002760003184")
            _ = try await Self.stripe(base, "POST", "/v1/payment_methods/\(secure)/attach", [("customer", customer)])
            _ = try await Self.stripe(
                base, "POST", "/v1/customers/\(customer)", [("invoice_settings[default_payment_method]", secure)])
            _ = try await Self.stripe(
                base, "POST", "/v1/invoiceitems",
                [("customer", customer), ("amount", "990"), ("currency", "eur"), ("subscription", subscription)])
            let invoice = try #require(
                try await Self.stripe(
                    base, "POST", "/v1/invoices", [("customer", customer), ("subscription", subscription)])["id"]
                    as? String)
            let attempt = try await Self.stripe(base, "POST", "/v1/invoices/\(invoice)/pay")
            let intent = try await Self.stripe(
                base, "GET", "/v1/payment_intents/\(try #require(attempt["payment_intent"] as? String))")
            #expect(intent["status"] as? String == "requires_action")
            _ = try await Self.stripe(
                base, "POST", "/v1/payment_intents/\(try #require(intent["id"] as? String))/_authenticate",
                [
                    ("client_secret", try #require(intent["client_secret"] as? String)), ("success", "false"),
                ])
            try await Self.eventually("the failed payment to put the subscription past due") {
                try await state().status == "past_due"
            }
            #expect(try await state().plan == "pro", "the grace period keeps the plan")
            try await Self.eventually("the grace period to run out") { try await state() == ("basic", "inactive") }

            // The customer pays the overdue invoice with a working card: back on Pro.
            _ = try await Self.stripe(
                base, "POST", "/v1/customers/\(customer)", [("invoice_settings[default_payment_method]", good)])
            #expect(try await Self.stripe(base, "POST", "/v1/invoices/\(invoice)/pay")["status"] as? String == "paid")
            try await Self.eventually("the paid invoice to recover the subscription") {
                try await state() == ("pro", "active")
            }
        }
    }

    /// Schemathesis, every check, every operation of `openapi.yaml` against the
    /// real binary with Stripe configured (localstripe), finds nothing. `Tests/peers/schemathesis.toml`
    /// lists the refusals no schema can express, each with its reason; the hooks keep the run's own
    /// key from being revoked or rotated (the one call left out).
    @Test func schemathesisFindsNoDisagreementBetweenTheDocumentAndTheServer() async throws {
        try await Self.withLocalStripe { _, server, key in
            let keys = try await server.request("GET", "v1/api-keys", key: key)
            let listed = try JSONSerialization.jsonObject(with: keys.body) as? [String: Any]
            let runKey = try #require((listed?["data"] as? [[String: Any]])?.first?["id"] as? String)
            let python = URL(fileURLWithPath: try PythonPeers.interpreter)
            let schemathesis = python.deletingLastPathComponent().appendingPathComponent("schemathesis").path
            let report = NSTemporaryDirectory() + "schemathesis-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: report) }
            let run = try await TollgateBinary.runProgram(
                "/usr/bin/env",
                [
                    "SCHEMATHESIS_HOOKS=\(Repository.path("Tests/peers/schemathesis_hooks.py"))",
                    "TOLLGATE_RUN_KEY_ID=\(runKey)", "NO_COLOR=1",
                    schemathesis, "--config-file", Repository.path("Tests/peers/schemathesis.toml"), "run",
                    Repository.path("openapi.yaml"), "--url", server.baseURL.absoluteString,
                    "--header", "Authorization: Bearer \(key)", "--max-examples", "25",
                    "--seed", "1", "--report-dir", report,
                ])
            #expect(run.status == 0, "schemathesis found disagreements:\n\(run.stdout.suffix(12_000))\n\(run.stderr)")
        }
    }
}
