import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// The revenue report over the API, from subscriptions made and
/// changed through the manual provider, on both databases.
@Suite struct AnalyticsTests {
    @Test(arguments: TestDatabase.all)
    func theRevenueReportFollowsTheSubscriptions(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let key = app.adminKey
            for (customer, plan) in [("u1", "pro"), ("u2", "business")] {
                try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"\#(customer)"}"#)
                let made = try await client.call(
                    .post, "/v1/billing/subscriptions", key: key,
                    json: #"{"customer":"\#(customer)","plan":"\#(plan)","idempotencyKey":"s-\#(customer)"}"#)
                #expect(made.status == .created)
            }
            app.clock.advance(by: 20 * 86_400) // June 3rd
            let upgraded = try await client.call(
                .post, "/v1/billing/change-plan", key: key,
                json: #"{"customer":"u1","plan":"business","idempotencyKey":"up"}"#)
            #expect(upgraded.status == .ok)

            let report = try await client.call(
                .get, "/v1/analytics/revenue?currency=EUR&interval=month&from=2026-05-01&to=2026-07-01", key: key)
            #expect(report.status == .ok && report.json.string("currency") == "EUR")
            let months = try #require(report.json["intervals"] as? [[String: Any]])
            #expect(months.count == 2)
            let may = months[0], june = months[1]
            #expect(may.string("start") == "2026-05-01T00:00:00Z" && may.string("end") == "2026-06-01T00:00:00Z")
            #expect(may.int("mrrStart") == 0 && may.int("mrrEnd") == 990 + 2990)
            #expect((may["movements"] as? [String: Any])?.int("new") == 3980)
            #expect(may.int("payingCustomers") == 2 && may.int("arpa") == 1990 && may.int("arr") == 3980 * 12)
            #expect(may.isNull("logoChurnRate") && may.isNull("quickRatio"), "no denominator in the first month")
            #expect(june.int("mrrStart") == 3980 && june.int("mrrEnd") == 5980)
            #expect((june["movements"] as? [String: Any])?.int("expansion") == 2000)
            #expect(june.int("arpa") == 2990 && june["logoChurnRate"] as? Double == 0)
            #expect(june.isNull("quickRatio"), "nothing lost: no denominator")

            #expect(may.int("trialsStarted") == 0 && may.isNull("trialConversionRate"))

            // A 14-day trial without a card, started on June 3rd, ends unconverted on the 17th.
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u3"}"#)
            let trial = try await client.call(
                .post, "/v1/billing/trial", key: key, json: #"{"customer":"u3","plan":"pro"}"#)
            #expect(trial.status == .created)
            app.clock.advance(by: 15 * 86_400)
            _ = try await app.scheduler().tick()
            #expect(try await app.store.subscriptions(subject: "u3").first?.0.status == .inactive)
            let summer = try await client.call(
                .get, "/v1/analytics/revenue?currency=EUR&from=2026-06-01&to=2026-08-01", key: key)
            let trials = try #require(summer.json["intervals"] as? [[String: Any]])
            #expect(trials.map { $0.int("trialsStarted") } == [1, 0])
            #expect(trials.map { $0.int("trialsConverted") } == [0, 0])
            #expect(trials[0]["trialConversionRate"] as? Double == 0 && trials[1].isNull("trialConversionRate"))

            // The same as CSV.
            let csv = try await client.send(
                uri: "/v1/analytics/revenue.csv?currency=EUR&from=2026-05-01&to=2026-07-01", method: .get,
                headers: [.authorization: "Bearer \(key)"])
            // CSV lines end with CRLF (RFC 4180).
            let rows = String(buffer: csv.body).components(separatedBy: "\r\n").filter { !$0.isEmpty }.map {
                $0.split(separator: ",", omittingEmptySubsequences: false)
            }
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true && rows.count == 3)
            #expect(rows.first?.prefix(5) == ["currency", "start", "end", "mrr_start", "mrr_end"])
            #expect(rows.dropFirst().map { $0[4] } == ["3980", "5980"], "mrr_end, as in the JSON")
            #expect(rows[1][13] == "", "a null rate is an empty cell")
            let negotiated = try await client.send(
                uri: "/v1/analytics/revenue?currency=EUR&from=2026-05-01&to=2026-07-01", method: .get,
                headers: [.authorization: "Bearer \(key)", .accept: "text/csv"])
            #expect(String(buffer: negotiated.body) == String(buffer: csv.body), "Accept: text/csv gives the same CSV")

            let none = try await client.call(.get, "/v1/analytics/revenue?currency=USD", key: key)
            let empty = try #require(none.json["intervals"] as? [[String: Any]])
            #expect(empty.count == 12 && empty.allSatisfy { $0.int("mrrEnd") == 0 }, "currencies are never summed")
            for (query, field) in [
                ("", "currency"), ("?currency=EURO", "currency"), ("?currency=EUR&interval=year", "interval"),
                ("?currency=EUR&interval=day&from=2020-01-01&to=2026-01-01", "from"),
            ] {
                let refused = try await client.call(.get, "/v1/analytics/revenue\(query)", key: key)
                #expect(refused.status == .badRequest && refused.json.errorField == field, "\(query)")
            }
        }
    }
}
