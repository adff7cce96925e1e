import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing

@testable import TollgateServer

/// `POST /v1/events`: many usage events in one request, each with its own answer.
@Suite struct EventIngestionTests {
    @Test(arguments: TestDatabase.all)
    func eachEventIsDecidedOnItsOwnAndABatchRetryCountsNothingTwice(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            // The free plan's lifetime starter quota is 5: 3 + 2 fit, the next 1 does not.
            let events = #"""
                {"events":[
                  {"customer":"u1","feature":"starter","amount":3,"idempotencyKey":"e1"},
                  {"customer":"u1","feature":"starter","amount":2,"idempotencyKey":"e2"},
                  {"customer":"u1","feature":"searches","idempotencyKey":"e3"},
                  {"customer":"nobody","feature":"starter","idempotencyKey":"e4"}
                ]}
                """#
            let first = try await client.call(.post, "/v1/events", key: app.adminKey, json: events)
            #expect(
                first.status == .ok && first.json.int("accepted") == 2 && first.json.int("refused") == 1
                    && first.json.int("failed") == 1, "\(first.json)")
            let results = try #require(first.json["results"] as? [[String: Any]])
            #expect(results[2]["reason"] as? String == "TIER_LIMITED")
            #expect((results[3]["error"] as? [String: Any])?["code"] as? String == "CUSTOMER_NOT_FOUND")
            #expect((results[3]["error"] as? [String: Any])?["field"] as? String == "events[3].customer")

            let again = try await client.call(.post, "/v1/events", key: app.adminKey, json: events)
            #expect(again.json.int("accepted") == 2, "a retry replays each event's first answer")
            let check = try await client.call(
                .post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"starter"}"#)
            #expect(check.json.int("used") == 5, "counted once")

            let malformed = try await client.call(
                .post, "/v1/events", key: app.adminKey,
                json: #"""
                    {"events":[{"customer":"u1","feature":"notes","idempotencyKey":"m1"}
                        ,{"customer":"u1","feature":"notes"}]}
                    """#)
            #expect(malformed.status == .badRequest && malformed.json.errorField == "events[1].idempotencyKey")
            #expect(
                try await client.call(
                    .post, "/v1/check", key: app.adminKey, json: #"{"customer":"u1","feature":"notes"}"#
                ).json.int("used") == 0,
                "a malformed batch counts nothing")
            let tooMany =
                "{\"events\":["
                + (0...1000).map { #"{"customer":"u1","feature":"notes","idempotencyKey":"t\#($0)"}"# }.joined(
                    separator: ",") + "]}"
            #expect(
                try await client.call(.post, "/v1/events", key: app.adminKey, json: tooMany).json.errorField == "events"
            )
            #expect(
                try await client.call(.post, "/v1/events", key: app.adminKey, json: #"{"events":[]}"#).json.errorField
                    == "events")
        }
    }
}
