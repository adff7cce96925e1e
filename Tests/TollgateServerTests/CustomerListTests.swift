import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

/// `GET /v1/customers`: search, filters, "near a limit", sorts and cursors, on both databases.
@Suite struct CustomerListTests {
    static func ids(_ answer: (status: HTTPResponse.Status, json: [String: Any])) -> [String] {
        (answer.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    @Test(arguments: TestDatabase.all)
    func findsFiltersAndPagesCustomers(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let people: [(String, String?, String?)] = [
                ("ada", "ada@example.com", "Ada Lovelace"), ("alan", "alan@turing.org", "Alan Turing"),
                ("grace", "grace@navy.mil", "Grace Hopper"), ("adele", nil, "Adèle 100%_done"),
                ("edsger", "ew.dijkstra@example.com", nil), ("barbara", "barbara@example.com", "Barbara L."),
            ]
            for (index, person) in people.enumerated() {
                // Adèle is created with Grace: the id breaks the tie, and no page loses either.
                if index != 3 { app.clock.advance(by: 1) }
                var body: [String: String] = ["id": person.0]
                body["email"] = person.1
                body["name"] = person.2
                let json = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
                #expect(try await client.call(.post, "/v1/customers", key: app.adminKey, json: json).status == .created)
            }
            let key = try await app.key(scopes: [.entitlementsRead])
            func list(_ query: String) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
                try await client.call(.get, "/v1/customers" + query, key: key)
            }
            // Newest first by default.
            #expect(Self.ids(try await list("")) == ["barbara", "edsger", "grace", "adele", "alan", "ada"])
            // By id (exact or prefix), e-mail or name, any case; LIKE's wildcards are plain characters.
            #expect(Set(Self.ids(try await list("?query=AD"))) == ["ada", "adele"])
            #expect(Self.ids(try await list("?query=turing")) == ["alan"])
            #expect(Self.ids(try await list("?query=DIJKSTRA")) == ["edsger"])
            #expect(Self.ids(try await list("?query=100%25_")) == ["adele"])
            #expect(Self.ids(try await list("?query=%25")) == ["adele"])
            #expect(Self.ids(try await list("?query=nobody")) == [])
            // Plan and status.
            #expect(
                try await client.call(.put, "/v1/customers/grace/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
                    .status == .ok)
            let subscribed = try await client.call(
                .post, "/v1/billing/subscriptions", key: app.adminKey,
                json: #"{"customer":"alan","plan":"scale","idempotencyKey":"s1"}"#)
            #expect(subscribed.status == .created, "\(subscribed.json)")
            #expect(Self.ids(try await list("?plan=pro")) == ["grace"])
            #expect(Self.ids(try await list("?status=active")) == ["alan"])
            let alan = (try await list("?query=alan").json["data"] as? [[String: Any]])?.first
            #expect(alan?["plan"] as? String == "scale" && alan?["status"] as? String == "active")
            #expect(Self.ids(try await list("?status=free&plan=free")).count == 4)
            // Near a limit: 4 of the free plan's 5 starter searches is 80 %; 3 is not.
            for (customer, count) in [("ada", 4), ("barbara", 3)] {
                for index in 0..<count {
                    let consumed = try await client.call(
                        .post, "/v1/consume", key: app.adminKey,
                        json: #"{"customer":"\#(customer)","feature":"starter","idempotencyKey":"k\#(index)"}"#)
                    #expect(consumed.status == .ok)
                }
            }
            #expect(Self.ids(try await list("?nearLimit=true")) == ["ada"])
            #expect(Self.ids(try await list("?nearLimit=true&query=barb")) == [])
            // Every sort pages through everyone once, in order.
            for (sort, expected) in [
                ("-created", ["barbara", "edsger", "grace", "adele", "alan", "ada"]),
                ("created", ["ada", "alan", "adele", "grace", "edsger", "barbara"]),
                ("id", ["ada", "adele", "alan", "barbara", "edsger", "grace"]),
                ("email", ["adele", "ada", "alan", "barbara", "edsger", "grace"]),
            ] {
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await list(
                        "?sort=\(sort)&limit=4" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    #expect(page.status == .ok)
                    seen += Self.ids(page)
                    cursor = page.json["nextCursor"] as? String
                } while cursor != nil
                #expect(seen == expected, "sort \(sort)")
            }
            // Refused, naming the parameter.
            for (query, field) in [
                ("?status=gone", "status"), ("?plan=nope", "plan"), ("?limit=0", "limit"), ("?limit=201", "limit"),
                ("?limit=", "limit"),
                ("?cursor=%%%", "cursor"), ("?nearLimit=yes", "nearLimit"), ("?sort=name", "sort"),
            ] {
                let refused = try await list(query)
                #expect(refused.status == .badRequest && refused.json.errorField == field, "\(query): \(refused.json)")
            }
        }
    }

    @Test func cursorsAndTypedAmountsRoundTrip() throws {
        var query = CustomerQuery()
        query.limit = 1
        let listing = CustomerListing(
            customer: CustomerRecord(
                id: "a\u{1F}b é", email: nil, name: nil, planId: "free", billingAnchor: Date(),
                createdAt: Date(timeIntervalSince1970: 12.345), updatedAt: Date()),
            status: .free)
        let text = try #require(CustomerListQuery.nextCursor([listing], query: query))
        let cursor = try #require(CustomerListQuery.decodeCursor(text))
        #expect(cursor == CustomerCursor(key: "12345", id: "a\u{1F}b é"))
        #expect(CustomerListQuery.decodeCursor("bm9zZXBhcmF0b3I") == nil)
        let eur = Currency("EUR")!, jpy = Currency("JPY")!
        #expect(MoneyInput.minorUnits("49.90", currency: eur) == 4990)
        #expect(MoneyInput.minorUnits("49,9", currency: eur) == 4990)
        #expect(MoneyInput.minorUnits("50", currency: eur) == 5000)
        #expect(MoneyInput.minorUnits("1500", currency: jpy) == 1500)
        for bad in ["49.999", "1.5", "-3", "abc", "1.", ".5", "٣", "99999999999999999999"] {
            let currency = bad == "1.5" ? jpy : eur
            #expect(MoneyInput.minorUnits(bad, currency: currency) == nil, "\(bad)")
        }
    }
}
