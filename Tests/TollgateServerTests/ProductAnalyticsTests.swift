import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

/// Customers, usage, activity, adoption and retention over the API, from
/// consumes, refusals, tracked events and a subscription made through the manual provider, on
/// both databases; each also as CSV.
@Suite struct ProductAnalyticsTests {
    static func rows(_ csv: String) -> [[Substring]] {
        csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
    }

    @Test(arguments: TestDatabase.all)
    func theAnalyticsFollowWhatCustomersDo(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let key = app.adminKey
            for customer in ["u1", "u2", "u3"] {
                try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"\#(customer)"}"#)
            }
            // May 14th: u1 uses its ten lifetime auto titles and is refused the eleventh (with Pro
            // to upgrade to), and reformulation (not on Basic); u2 uses three.
            func consume(_ customer: String, _ feature: String, _ n: Int) async throws -> [Int] {
                var statuses: [Int] = []
                for index in 0..<n {
                    let key = "\(customer)-\(feature)-\(index)-\(app.clock.now().timeIntervalSince1970)"
                    let answer = try await client.call(
                        .post, "/v1/consume", key: app.adminKey,
                        json: #"{"customer":"\#(customer)","feature":"\#(feature)","idempotencyKey":"\#(key)"}"#)
                    statuses.append(answer.status.code)
                }
                return statuses
            }
            #expect(try await consume("u1", "auto_title", 11) == Array(repeating: 200, count: 10) + [429])
            #expect(try await consume("u1", "reformulate", 1) == [429])
            #expect(try await consume("u2", "auto_title", 3) == [200, 200, 200])
            // u3 and u2 only send product events; one of u3's is sent twice.
            let tracked = try await client.call(
                .post, "/v1/track", key: key,
                json: """
                    {"events":[
                      {"customer":"u3","event":"note_created","idempotencyKey":"n1",
                       "properties":{"words":120,"pinned":true}},
                      {"customer":"u3","event":"note_created","idempotencyKey":"n1"},
                      {"customer":"u3","event":"export_triggered","idempotencyKey":"e1","properties":{"format":"pdf"}},
                      {"customer":"u2","event":"note_created","idempotencyKey":"n2"}
                    ]}
                    """)
            #expect(tracked.status == .ok && tracked.json.int("recorded") == 3 && tracked.json.int("duplicates") == 1)
            let again = try await client.call(
                .post, "/v1/track", key: key,
                json: #"{"events":[{"customer":"u3","event":"note_created","idempotencyKey":"n1"}]}"#)
            #expect(again.json.int("recorded") == 0 && again.json.int("duplicates") == 1, "a retry records nothing")

            // May 16th: u1 upgrades to Pro, two days after the refusal that named it.
            app.clock.advance(by: 2 * 86_400)
            let made = try await client.call(
                .post, "/v1/billing/subscriptions", key: key,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s-u1"}"#)
            #expect(made.status == .created)

            let usage = try await client.call(.get, "/v1/analytics/usage?from=2026-05-01&to=2026-06-01", key: key)
            #expect(usage.status == .ok)
            let features = try #require(usage.json["features"] as? [[String: Any]])
            let titles = try #require(features.first { $0.string("feature") == "auto_title" })
            #expect(titles.string("plan") == "basic" && titles.int("activeCustomers") == 2)
            #expect(titles.int("totalUsage") == 13 && titles.int("medianPerCustomer") == 3)
            #expect(titles.int("p90PerCustomer") == 10 && titles.int("customersAtLimit") == 1)
            #expect(titles["limitHitRate"] as? Double == 0.5)
            #expect((titles["refusals"] as? [String: Any])?.int("USER_QUOTA_EXHAUSTED") == 1)
            #expect(titles.int("upgradePrompts") == 1 && titles.int("upgradedWithin14Days") == 1)
            #expect(titles["limitToUpgradeRate"] as? Double == 1)
            let rewrite = try #require(features.first { $0.string("feature") == "reformulate" })
            #expect(rewrite.int("activeCustomers") == 0 && rewrite.isNull("medianPerCustomer"))
            #expect((rewrite["refusals"] as? [String: Any])?.int("TIER_LIMITED") == 1)
            #expect(rewrite.int("customersAtLimit") == 0 && rewrite.int("upgradedWithin14Days") == 1)

            let activity = try await client.call(
                .get, "/v1/analytics/activity?from=2026-05-14&to=2026-05-17", key: key)
            let days = try #require(activity.json["days"] as? [[String: Any]])
            #expect(days.map { $0.string("date") } == ["2026-05-14", "2026-05-15", "2026-05-16"])
            #expect(days.map { $0.int("dau") } == [3, 0, 0], "u1 subscribed on the 16th but used nothing")
            #expect(days.map { $0.int("mau") } == [3, 3, 3] && days[1]["stickiness"] as? Double == 0)

            let adoption = try await client.call(.get, "/v1/analytics/adoption?from=2026-05-01&to=2026-06-01", key: key)
            #expect(adoption.json.int("activeCustomers") == 3)
            let uses = try #require(adoption.json["adoption"] as? [[String: Any]])
            let share = { (name: String) in uses.first { $0.string("name") == name } }
            #expect(share("auto_title")?.int("customers") == 2 && share("auto_title")?.string("source") == "feature")
            #expect(share("note_created")?.int("customers") == 2 && share("note_created")?.string("source") == "event")
            #expect(share("chat")?.int("customers") == 0, "every metered feature appears")

            // June: only u1 comes back.
            app.clock.advance(by: 20 * 86_400)
            #expect(try await consume("u1", "chat", 1) == [200])
            let customers = try await client.call(
                .get, "/v1/analytics/customers?from=2026-05-01&to=2026-07-01", key: key)
            let months = try #require(customers.json["intervals"] as? [[String: Any]])
            #expect(months.count == 2)
            let may = months[0]
            #expect(may.int("customers") == 3 && may.int("signUps") == 3 && may.int("freeToPaid") == 1)
            #expect(
                (may["byPlan"] as? [String: Any])?.int("basic") == 2
                    && (may["byPlan"] as? [String: Any])?.int("pro") == 1)
            #expect((may["byStatus"] as? [String: Any])?.int("active") == 1)
            #expect((may["byStatus"] as? [String: Any])?.int("free") == 2)
            #expect(may["freeToPaidRate"] as? Double == 1.0 / 3)
            #expect(months[1].int("signUps") == 0 && months[1]["freeToPaidRate"] as? Double == 0)
            #expect(customers.json["plans"] as? [String] == ["basic", "pro", "business", "enterprise"])

            let retention = try await client.call(
                .get, "/v1/analytics/retention?from=2026-05-01&to=2026-07-01", key: key)
            let cohorts = try #require(retention.json["cohorts"] as? [[String: Any]])
            #expect(cohorts.map { $0.string("month") } == ["2026-05", "2026-06"])
            #expect(cohorts[0].int("customers") == 3 && cohorts[0]["active"] as? [Int] == [3, 1])
            #expect(cohorts[0]["retention"] as? [Double] == [1, 1.0 / 3])
            #expect(cohorts[1].int("customers") == 0 && (cohorts[1]["retention"] as? [Any])?.first is NSNull)

            // Every answer also as CSV, by suffix or by Accept.
            for (path, firstColumns, lines) in [
                ("usage?from=2026-05-01&to=2026-06-01", ["from", "to", "feature", "plan"], 1 + features.count),
                ("customers?from=2026-05-01&to=2026-07-01", ["start", "end", "customers", "sign_ups"], 3),
                ("activity?from=2026-05-14&to=2026-05-17", ["date", "dau", "wau", "mau"], 4),
                ("adoption?from=2026-05-01&to=2026-06-01", ["from", "to", "source", "name"], 1 + uses.count),
                ("retention?from=2026-05-01&to=2026-07-01", ["cohort", "customers", "month_0", "month_1"], 3),
            ] {
                let name = String(path.prefix { $0 != "?" })
                let suffixed = try await client.send(
                    uri: "/v1/analytics/\(name).csv?\(path.drop { $0 != "?" }.dropFirst())", method: .get,
                    headers: [.authorization: "Bearer \(key)"])
                let negotiated = try await client.send(
                    uri: "/v1/analytics/\(path)", method: .get,
                    headers: [.authorization: "Bearer \(key)", .accept: "text/csv"])
                let table = Self.rows(String(buffer: suffixed.body))
                #expect(suffixed.headers[.contentType]?.hasPrefix("text/csv") == true, "\(name)")
                #expect(
                    table.count == lines
                        && table.first.map { Array($0.prefix(4)) } == firstColumns.map { Substring($0) }, "\(name)")
                #expect(String(buffer: negotiated.body) == String(buffer: suffixed.body), "\(name)")
            }
            let retentionCSV = Self.rows(
                String(
                    buffer: try await client.send(
                        uri: "/v1/analytics/retention.csv?from=2026-05-01&to=2026-07-01", method: .get,
                        headers: [.authorization: "Bearer \(key)"]
                    ).body))
            #expect(
                retentionCSV[1] == ["2026-05", "3", "1.0", "\(1.0 / 3)"] && retentionCSV[2] == ["2026-06", "0", "", ""])
        }
    }

    @Test(arguments: TestDatabase.all)
    func badTrackedEventsAreRefusedWhole(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u1"}"#)
            let manyProperties = (0...20).map { #""p\#($0)":1"# }.joined(separator: ",")
            let good = #"{"customer":"u1","event":"ok","idempotencyKey":"g"}"#
            for (event, status, field) in [
                (#"{"customer":"u1","event":"no spaces","idempotencyKey":"a"}"#, 400, "events[1].event"),
                (
                    #"{"customer":"u1","event":"x","idempotencyKey":"a","timestamp":"2030-01-01T00:00:00Z"}"#, 400,
                    "events[1].timestamp"
                ),
                (
                    #"{"customer":"u1","event":"x","idempotencyKey":"a","properties":{\#(manyProperties)}}"#, 400,
                    "events[1].properties"
                ),
                (
                    #"{"customer":"u1","event":"x","idempotencyKey":"a","properties":{"n":{"deep":1}}}"#, 400,
                    "events[1].properties.n"
                ),
                (
                    #"{"customer":"u1","event":"x","idempotencyKey":"a","properties":{"n":null}}"#, 400,
                    "events[1].properties.n"
                ),
                (#"{"customer":"ghost","event":"x","idempotencyKey":"a"}"#, 404, "events[1].customer"),
                (#"{"customer":"u1","event":"x"}"#, 400, "events[1].idempotencyKey"),
            ] {
                let refused = try await client.call(
                    .post, "/v1/track", key: key, json: #"{"events":[\#(good),\#(event)]}"#)
                #expect(refused.status.code == status && refused.json.errorField == field, "\(event): \(refused.json)")
            }
            let empty = try await client.call(.post, "/v1/track", key: key, json: #"{"events":[]}"#)
            #expect(empty.status == .badRequest && empty.json.errorField == "events")
            let adoption = try await client.call(.get, "/v1/analytics/adoption", key: key)
            let names = (adoption.json["adoption"] as? [[String: Any]])?.compactMap { $0.string("name") } ?? []
            #expect(!names.contains("ok"), "a refused batch records nothing, not even its good events")
            for (path, field) in [
                ("usage?from=2025-01-01&to=2026-06-01", "from"), ("activity?from=2026-06-01&to=2026-05-01", "from"),
                ("customers?interval=year", "interval"), ("retention?from=2000-01-01&to=2026-01-01", "from"),
                ("adoption?to=someday", "to"),
            ] {
                let refused = try await client.call(.get, "/v1/analytics/\(path)", key: key)
                #expect(refused.status == .badRequest && refused.json.errorField == field, "\(path)")
            }
        }
    }
}
