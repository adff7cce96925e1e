import AsyncHTTPClient
import Foundation
import HummingbirdTesting
import OpenAPIAsyncHTTPClient
import TestSupport
import Testing
import TollgateClient

/// The generated Swift client (`TollgateClient`) against a live server, over AsyncHTTPClient, as
/// a product's backend would use it: customers, consume, check, events, credits, entitlements.
@Suite struct TollgateClientTests {
    @Test(arguments: TestDatabase.all)
    func aBackendMetersThroughTheGeneratedClient(database: TestDatabase) async throws {
        try await AppHarness.run(database, setup: .live) { app, live in
            let port = try #require(live.port)
            let client = Client(
                serverURL: try #require(URL(string: "http://127.0.0.1:\(port)")), secretKey: app.adminKey,
                transport: AsyncHTTPClientTransport())

            let created = try await client.createCustomer(body: .json(.init(id: "u1", email: "u1@example.com")))
            #expect(try created.created.body.json.plan == "free")

            // Free: 3 notes. Three consumes are allowed, the fourth is refused with the tier to upgrade to.
            for index in 1...3 {
                let answer = try await client.consume(
                    body: .json(.init(customer: "u1", feature: "notes", idempotencyKey: "n\(index)")))
                #expect(try answer.ok.body.json.used == Int64(index))
            }
            let refused = try await client.consume(
                body: .json(.init(customer: "u1", feature: "notes", idempotencyKey: "n4")))
            // A refusal is the outcome and the error together (allOf: value1 and value2); a 429 may
            // also be a rate limit's plain error (anyOf: value2).
            let refusal = try #require(try refused.tooManyRequests.body.json.value1)
            #expect(refusal.value1.allowed == false && refusal.value1.upgradeTier == "pro")
            #expect(refusal.value2.error.code == .userQuotaExhausted)
            // A retry replays the first answer.
            let replay = try await client.consume(
                body: .json(.init(customer: "u1", feature: "notes", idempotencyKey: "n2")))
            #expect(try replay.ok.body.json.used == 2)

            let check = try await client.check(body: .json(.init(customer: "u1", feature: "notes")))
            #expect(try check.ok.body.json.allowed == false)

            _ = try await client.changePlan(path: .init(id: "u1"), body: .json(.init(plan: "pro")))
            let events = try await client.ingestEvents(
                body: .json(
                    .init(events: [
                        .init(customer: "u1", feature: "searches", amount: 5, idempotencyKey: "e1"),
                        .init(customer: "u1", feature: "searches", amount: 7, idempotencyKey: "e2"),
                        .init(customer: "nobody", feature: "searches", idempotencyKey: "e3"),
                    ])))
            let batch = try events.ok.body.json
            #expect((batch.accepted, batch.refused, batch.failed) == (2, 0, 1))

            let grant = try await client.grantCredits(
                path: .init(id: "u1"), body: .json(.init(amount: 40, reason: .purchase, idempotencyKey: "g1")))
            #expect(try grant.created.body.json.amount == 40)
            let balances = try await client.creditBalances(path: .init(id: "u1"))
            #expect(try balances.ok.body.json.balances.map(\.available) == [40])

            let entitlements = try await client.getEntitlements(path: .init(id: "u1")).ok.body.json
            #expect(entitlements.plan.id == "pro")
            let searches = try #require(entitlements.features.first { $0.feature == "searches" })
            #expect((searches.used, searches.remaining) == (12, 88))

            // A wrong key is refused by the server, and the client says so as a typed answer.
            let stranger = Client(
                serverURL: try #require(URL(string: "http://127.0.0.1:\(port)")), secretKey: "tg_sk_wrong",
                transport: AsyncHTTPClientTransport())
            let denied = try await stranger.getCustomer(path: .init(id: "u1"))
            #expect(try denied.unauthorized.body.json.error.code == .unauthorized)
        }
    }
}
