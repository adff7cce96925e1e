import Foundation
import HTTPTypes
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

@Suite struct APITests {
    @Test(arguments: TestDatabase.all)
    func customersPlansAndEntitlements(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            let created = try await client.call(
                .post, "/v1/customers", key: key, json: #"{"id":"u1","email":"u1@example.com"}"#)
            #expect(created.status == .created && created.json.string("plan") == "free" && created.json.isNull("name"))
            let again = try await client.call(
                .post, "/v1/customers", key: key, json: #"{"id":"u1","email":"u1@example.com"}"#)
            #expect(again.status == .ok)
            let clash = try await client.call(
                .post, "/v1/customers", key: key, json: #"{"id":"u1","email":"other@example.com"}"#)
            #expect(clash.status == .conflict && clash.json.errorCode == "CONFLICT" && clash.json.errorField == "id")
            #expect(try await client.call(.get, "/v1/customers/u1", key: key).json.string("email") == "u1@example.com")

            let free = try await client.call(.get, "/v1/customers/u1/entitlements", key: key)
            #expect(free.status == .ok && (free.json["plan"] as? [String: Any])?["id"] as? String == "free")
            let features = try #require(free.json["features"] as? [[String: Any]])
            #expect(features.map { $0["feature"] as? String } == ["notes", "searches", "starter", "api_access"])
            let starter = try #require(features.first { $0["feature"] as? String == "starter" })
            #expect(
                starter.int("limit") == 5 && starter.int("used") == 0 && starter.string("period") == "lifetime"
                    && starter.isNull("resetsAt"))
            let searches = try #require(features.first { $0["feature"] as? String == "searches" })
            #expect(searches["included"] as? Bool == false)

            let moved = try await client.call(.put, "/v1/customers/u1/plan", key: key, json: #"{"plan":"scale"}"#)
            #expect(moved.status == .ok && moved.json.string("plan") == "scale")
            let scale = try await client.call(.get, "/v1/customers/u1/entitlements", key: key)
            let unlimited = try #require(
                (scale.json["features"] as? [[String: Any]])?.first { $0["feature"] as? String == "searches" })
            #expect(
                unlimited.isNull("limit") && unlimited.isNull("remaining")
                    && unlimited.string("resetsAt") == "2026-06-01T00:00:00Z")
            let unknownPlan = try await client.call(.put, "/v1/customers/u1/plan", key: key, json: #"{"plan":"gold"}"#)
            #expect(
                unknownPlan.status == .notFound && unknownPlan.json.errorCode == "PLAN_NOT_FOUND"
                    && unknownPlan.json.errorField == "plan")
            let ghost = try await client.call(.put, "/v1/customers/ghost/plan", key: key, json: #"{"plan":"pro"}"#)
            #expect(ghost.status == .notFound && ghost.json.errorCode == "CUSTOMER_NOT_FOUND")
        }
    }

    @Test(arguments: TestDatabase.all)
    func checkConsumeReleaseAndHistory(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u1"}"#)
            let check = try await client.call(
                .post, "/v1/check", key: key, json: #"{"customer":"u1","feature":"starter","amount":5}"#)
            #expect(check.status == .ok && check.json["allowed"] as? Bool == true && check.json.int("remaining") == 5)
            let consumed = try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"u1","feature":"starter","amount":4,"idempotencyKey":"a"}"#)
            #expect(consumed.status == .ok && consumed.json.int("remaining") == 1 && consumed.json.int("used") == 4)
            let replay = try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"u1","feature":"starter","amount":4,"idempotencyKey":"a"}"#)
            #expect(replay.status == .ok && replay.json.int("used") == 4)
            // The key travels in the body only, as on every mutating route (the header of earlier
            // versions is not read: the document could not say "one of the two").
            let viaHeader = try await client.call(
                .post, "/v1/consume", key: key, json: #"{"customer":"u1","feature":"starter"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "b"])
            #expect(viaHeader.status == .badRequest && viaHeader.json.errorField == "idempotencyKey")
            let last = try await client.call(
                .post, "/v1/consume", key: key, json: #"{"customer":"u1","feature":"starter","idempotencyKey":"b"}"#)
            #expect(last.status == .ok && last.json.int("used") == 5)
            let refused = try await client.call(
                .post, "/v1/consume", key: key, json: #"{"customer":"u1","feature":"starter","idempotencyKey":"c"}"#)
            #expect(refused.status == .tooManyRequests && refused.json["allowed"] as? Bool == false)
            #expect(
                refused.json.string("reason") == "USER_QUOTA_EXHAUSTED" && refused.json.string("upgradeTier") == "pro")
            #expect(refused.json.errorCode == "USER_QUOTA_EXHAUSTED")
            let tier = try await client.call(
                .post, "/v1/consume", key: key, json: #"{"customer":"u1","feature":"searches","idempotencyKey":"d"}"#)
            #expect(
                tier.status == .tooManyRequests && tier.json.string("reason") == "TIER_LIMITED"
                    && tier.json.string("upgradeTier") == "pro")
            let deniedCheck = try await client.call(
                .post, "/v1/check", key: key, json: #"{"customer":"u1","feature":"api_access"}"#)
            #expect(deniedCheck.status == .ok && deniedCheck.json.string("reason") == "TIER_LIMITED")

            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"u1","feature":"notes","amount":3,"idempotencyKey":"n"}"#)
            let released = try await client.call(
                .post, "/v1/release", key: key,
                json: #"{"customer":"u1","feature":"notes","amount":1,"idempotencyKey":"r"}"#)
            #expect(released.status == .ok && released.json.int("used") == 2 && released.json.int("remaining") == 1)

            let history = try await client.call(.get, "/v1/customers/u1/usage?from=2026-01-01&to=2026-12-31", key: key)
            let rows = try #require(history.json["usage"] as? [[String: Any]])
            #expect(Set(rows.compactMap { $0["feature"] as? String }) == ["notes", "starter"])
            #expect(rows.first { $0["feature"] as? String == "starter" }?["used"] as? Int == 5)
        }
    }

    @Test(arguments: TestDatabase.all)
    func concurrentHTTPConsumesAcceptExactlyTheLimit(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            try await client.call(.put, "/v1/customers/u1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await client.call(
                            .post, "/v1/consume", key: app.adminKey,
                            json: #"{"customer":"u1","feature":"searches","idempotencyKey":"k\#(index)"}"#
                        ).status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 100)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 100)
        }
    }

    @Test(arguments: TestDatabase.all)
    func healthFollowsTheDatabase(database: TestDatabase) async throws {
        let flaky = FlakyProviderBox()
        try await AppHarness.run(database, wrap: { flaky.wrap($0) }) { _, client in
            let healthy = try await client.call(.get, "/health", key: nil)
            #expect(healthy.status == .ok && healthy.json.string("database") == database.rawValue)
            flaky.provider?.failReads.store(true, ordering: .relaxed)
            let down = try await client.call(.get, "/health", key: nil)
            #expect(down.status == .serviceUnavailable && down.json.errorCode == "UNAVAILABLE")
        }
    }

    @Test(arguments: TestDatabase.all)
    func keysAndScopes(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let missing = try await client.call(.get, "/v1/customers/u1", key: nil)
            #expect(missing.status == .unauthorized && missing.json.errorCode == "UNAUTHORIZED")
            var headers = HTTPFields()
            headers[.authorization] = "Basic dXNlcjpwYXNz"
            let basic = try await client.call(.get, "/v1/customers/u1", key: nil, headers: headers)
            #expect(basic.status == .unauthorized)
            let unknown = try await client.call(
                .get, "/v1/customers/u1", key: "tg_sk_" + String(repeating: "0", count: 48))
            #expect(unknown.status == .unauthorized)
            let reader = try await app.key(scopes: [.entitlementsRead])
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            #expect(try await client.call(.get, "/v1/customers/u1/entitlements", key: reader).status == .ok)
            let forbidden = try await client.call(
                .post, "/v1/consume", key: reader, json: #"{"customer":"u1","feature":"notes","idempotencyKey":"x"}"#)
            #expect(forbidden.status == .forbidden && forbidden.json.errorCode == "FORBIDDEN")
            #expect(
                (forbidden.json["error"] as? [String: Any])?["message"] as? String
                    == "this API key lacks the scope usage:write")
            let writer = try await app.key(scopes: [.usageWrite])
            #expect(
                try await client.call(.post, "/v1/customers", key: writer, json: #"{"id":"u2"}"#).status == .forbidden)
            #expect(
                try await client.call(
                    .post, "/v1/consume", key: writer,
                    json: #"{"customer":"u1","feature":"notes","idempotencyKey":"x"}"#
                ).status == .ok)
        }
    }
}

/// Lets a test reach the FlakyProvider that the harness puts under its fresh database.
final class FlakyProviderBox: Sendable {
    private let wrapped = Mutex<FlakyProvider?>(nil)

    var provider: FlakyProvider? { wrapped.withLock { $0 } }

    func wrap(_ base: SQLStore) -> any Storage {
        let flaky = FlakyProvider(base: base.provider)
        wrapped.withLock { $0 = flaky }
        return SQLStore(provider: flaky)
    }
}
