import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateServer

@Suite struct CreditAPITests {
    static var renzo: Catalog {
        get throws { try CatalogLoader.load(contentsOf: Repository.path("catalogs/renzo.yaml")) }
    }

    /// A Renzo customer buys a pack, reserves credits for a job, commits the actual cost or
    /// releases on failure, and sees every movement with its running balance.
    @Test(arguments: TestDatabase.all)
    func renzoBuysReservesCommitsAndReadsItsHistory(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try Self.renzo) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"agent_1"}"#)
            let start = try await client.call(.get, "/v1/customers/agent_1/credits", key: key)
            let startBalance = try #require((start.json["balances"] as? [[String: Any]])?.first)
            #expect(startBalance["creditType"] as? String == "credits" && startBalance["balance"] as? Int == 5)
            let pack = try await client.call(
                .post, "/v1/customers/agent_1/credits/grants", key: key,
                json: #"{"amount":50,"reason":"purchase","reference":"pack_50","idempotencyKey":"order-1"}"#)
            #expect(pack.status == .created && pack.json.int("balance") == 55)
            let twice = try await client.call(
                .post, "/v1/customers/agent_1/credits/grants", key: key,
                json: #"{"amount":50,"reason":"purchase","reference":"pack_50","idempotencyKey":"order-1"}"#)
            #expect(twice.json.int("balance") == 55, "a webhook delivered twice grants once")

            let hold = try await client.call(
                .post, "/v1/credits/reserve", key: key,
                json: #"{"customer":"agent_1","amount":30,"ttlSeconds":120,"idempotencyKey":"job-1"}"#)
            #expect(hold.status == .created && hold.json.int("available") == 25)
            let reservation = try #require(hold.json.string("reservation"))
            let short = try await client.call(
                .post, "/v1/credits/reserve", key: key,
                json: #"{"customer":"agent_1","amount":26,"idempotencyKey":"job-2"}"#)
            #expect(short.status == HTTPResponse.Status(code: 402) && short.json.errorCode == "INSUFFICIENT_CREDITS")
            let committed = try await client.call(
                .post, "/v1/credits/reservations/\(reservation)/commit", key: key, json: #"{"amount":21}"#)
            #expect(
                committed.status == .ok && committed.json.int("balance") == 34 && committed.json.int("available") == 34)
            let failedJob = try #require(
                try await client.call(
                    .post, "/v1/credits/reserve", key: key,
                    json: #"{"customer":"agent_1","amount":10,"idempotencyKey":"job-3"}"#
                ).json.string("reservation"))
            let released = try await client.call(.post, "/v1/credits/reservations/\(failedJob)/release", key: key)
            #expect(released.json.int("available") == 34)
            // A retried release answers the same; a committed reservation cannot be released.
            let retried = try await client.call(.post, "/v1/credits/reservations/\(failedJob)/release", key: key)
            #expect(
                retried.status == .ok
                    && NSDictionary(dictionary: retried.json) == NSDictionary(dictionary: released.json))
            #expect(
                try await client.call(.post, "/v1/credits/reservations/\(reservation)/release", key: key).status
                    == .notFound)

            // Virtual staging costs 3 credits a photo, through consume.
            let staged = try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"agent_1","feature":"virtual_staging","amount":10,"idempotencyKey":"photos-1"}"#)
            #expect(staged.status == .ok)
            let tooMany = try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"agent_1","feature":"virtual_staging","amount":2,"idempotencyKey":"photos-2"}"#)
            #expect(
                tooMany.status == HTTPResponse.Status(code: 402)
                    && tooMany.json.string("reason") == "INSUFFICIENT_CREDITS")
            let debit = try await client.call(
                .post, "/v1/credits/debit", key: key,
                json: #"{"customer":"agent_1","amount":4,"idempotencyKey":"manual"}"#)
            #expect(debit.status == .ok && debit.json.int("balance") == 0)

            let history = try await client.call(.get, "/v1/customers/agent_1/credits/history?limit=3", key: key)
            let page = try #require(history.json["data"] as? [[String: Any]])
            #expect(page.map { $0["reason"] as? String } == ["consumption", "consumption", "consumption"])
            #expect(page.map { $0["balanceAfter"] as? Int } == [0, 4, 34])
            let cursor = try #require(history.json.string("nextCursor"))
            let rest = try #require(
                try await client.call(.get, "/v1/customers/agent_1/credits/history?cursor=\(cursor)", key: key).json[
                    "data"] as? [[String: Any]])
            #expect(rest.map { $0["reason"] as? String } == ["purchase", "starter_pack"])
            #expect(rest.last?["balanceAfter"] as? Int == 5)

            let csv = try await client.send(
                uri: "/v1/customers/agent_1/credits/history.csv", method: .get,
                headers: [.authorization: "Bearer \(key)"])
            let text = String(decoding: Data(csv.body.readableBytesView), as: UTF8.self)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let rows = text.split(separator: "\r\n")
            #expect(rows.first == "seq,at,reason,reference,delta,balance_after,id" && rows.count == 6)
            #expect(rows.last?.contains(",starter_pack,") == true)
        }
    }

    @Test func badCreditInputNamesTheField() async throws {
        try await AppHarness.run(.sqlite, catalog: try Self.renzo) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1"}"#)
            let cases: [(String, String, String)] = [
                (
                    "/v1/customers/c1/credits/grants", #"{"amount":0,"reason":"purchase","idempotencyKey":"k"}"#,
                    "amount"
                ),
                (
                    "/v1/customers/c1/credits/grants", #"{"amount":5,"reason":"consumption","idempotencyKey":"k"}"#,
                    "reason"
                ),
                (
                    "/v1/customers/c1/credits/grants",
                    #"{"amount":5,"reason":"grant","creditType":"gold","idempotencyKey":"k"}"#, "creditType"
                ),
                (
                    "/v1/customers/c1/credits/grants",
                    #"{"amount":5,"reason":"grant","expiresAt":"2001-01-01T00:00:00Z","idempotencyKey":"k"}"#,
                    "expiresAt"
                ),
                ("/v1/customers/c1/credits/grants", #"{"amount":5,"reason":"grant"}"#, "idempotencyKey"),
                ("/v1/credits/debit", #"{"customer":"c1","amount":-3,"idempotencyKey":"k"}"#, "amount"),
                (
                    "/v1/credits/reserve", #"{"customer":"c1","amount":1,"ttlSeconds":0,"idempotencyKey":"k"}"#,
                    "ttlSeconds"
                ),
                ("/v1/credits/reserve", #"{"customer":"c1","amount":1.5,"idempotencyKey":"k"}"#, "amount"),
            ]
            for (path, body, field) in cases {
                let (status, json) = try await client.call(.post, path, key: app.adminKey, json: body)
                #expect(status == .badRequest && json.errorField == field, "\(path) \(body): \(json)")
            }
            #expect(
                try await client.call(.get, "/v1/customers/c1/credits/history?limit=0", key: app.adminKey).json
                    .errorField == "limit")
            #expect(
                try await client.call(
                    .post, "/v1/credits/debit", key: app.adminKey,
                    json: #"{"customer":"ghost","amount":1,"idempotencyKey":"k"}"#
                ).status == .notFound)
            #expect(
                try await client.call(
                    .post, "/v1/credits/reservations/res_x/commit", key: app.adminKey, json: #"{"amount":1}"#
                ).status == .notFound)
            let untouched = try await client.call(.get, "/v1/customers/c1/credits/history", key: app.adminKey)
            #expect((untouched.json["data"] as? [[String: Any]])?.map { $0["reason"] as? String } == ["starter_pack"])
        }
    }
}
