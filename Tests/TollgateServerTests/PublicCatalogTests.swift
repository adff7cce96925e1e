import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity

@testable import TollgateServer

/// `GET /v1/catalog`: public, in ladder order, cacheable, and with a customer's
/// relation to each plan for those allowed to ask.
@Suite struct PublicCatalogTests {
    static func plans(_ json: [String: Any]) -> [[String: Any]] { json["plans"] as? [[String: Any]] ?? [] }

    @Test func thePlansAsAPricingPageNeedsThemWithAnETag() async throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        try await AppHarness.run(.sqlite, catalog: catalog) { app, client in
            let answer = try await client.send(uri: "/v1/catalog", method: .get)
            #expect(answer.status == .ok)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any])
            let plans = Self.plans(json)
            #expect(plans.map { $0["id"] as? String } == ["basic", "pro", "business", "enterprise"])
            let pro = try #require(plans.first { $0["id"] as? String == "pro" })
            #expect(pro["trialDays"] as? Int == 14 && pro["trialRequiresPaymentMethod"] as? Bool == false)
            let prices = pro["prices"] as? [[String: Any]] ?? []
            #expect(
                prices.contains {
                    $0["currency"] as? String == "EUR" && $0["interval"] as? String == "year"
                        && $0["amount"] as? Int == 9900
                })
            let features = pro["features"] as? [[String: Any]] ?? []
            let search = try #require(features.first { $0["feature"] as? String == "semantic_search" })
            #expect(search["limit"] as? Int == 100 && search["period"] as? String == "monthly")
            let notes = try #require(features.first { $0["feature"] as? String == "notes" })
            #expect(notes["unlimited"] as? Bool == true && notes["limit"] is NSNull)
            let basicSearch = try #require(
                (plans[0]["features"] as? [[String: Any]])?.first { $0["feature"] as? String == "semantic_search" })
            #expect(basicSearch["period"] as? String == "lifetime" && basicSearch["limit"] as? Int == 30)
            #expect(pro["relation"] == nil)
            // The same answer has the same tag; a copy held is not sent again.
            let tag = try #require(answer.headers[.eTag])
            #expect(answer.headers[.cacheControl] == "public, max-age=300")
            let again = try await client.send(uri: "/v1/catalog", method: .get, headers: [.ifNoneMatch: tag])
            #expect(again.status == .notModified && again.body.readableBytes == 0 && again.headers[.eTag] == tag)
            let stale = try await client.send(uri: "/v1/catalog", method: .get, headers: [.ifNoneMatch: "\"old\""])
            #expect(stale.status == .ok)
            // One currency.
            let usd = try await client.call(.get, "/v1/catalog?currency=usd", key: nil)
            #expect(usd.json.string("currency") == "USD")
            let usdPrices = Self.plans(usd.json).flatMap { $0["prices"] as? [[String: Any]] ?? [] }
            #expect(!usdPrices.isEmpty && usdPrices.allSatisfy { $0["currency"] as? String == "USD" })
            let yen = try await client.call(.get, "/v1/catalog?currency=JPY", key: nil)
            #expect(yen.status == .badRequest && yen.json.errorField == "currency")
            _ = app
        }
    }

    @Test(arguments: TestDatabase.all)
    func aCustomerSeesCurrentUpgradesAndDowngrades(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        try await AppHarness.run(database, catalog: catalog) { app, client in
            let user = try await AccountTests.signUp(app, client, email: "reader@example.com")
            #expect(
                try await client.call(
                    .put, "/v1/customers/\(user.id)/plan", key: app.adminKey, json: #"{"plan":"pro"}"#
                )
                .status == .ok)
            func relations(_ key: String?) async throws -> (HTTPResponse.Status, [String?]) {
                let answer = try await client.call(.get, "/v1/catalog?customer=\(user.id)", key: key)
                return (answer.status, Self.plans(answer.json).map { $0["relation"] as? String })
            }
            let expected: [String?] = ["downgrade", "current", "upgrade", "upgrade"]
            #expect(try await relations(user.access) == (.ok, expected))
            let reader = try await app.key(scopes: [.entitlementsRead])
            #expect(try await relations(reader) == (.ok, expected))
            // Not without a credential, not with a key lacking the scope, not another user's.
            #expect(try await relations(nil).0 == .unauthorized)
            #expect(try await relations(try await app.key(scopes: [.usageWrite])).0 == .forbidden)
            let other = try await AccountTests.signUp(app, client, email: "other@example.com")
            #expect(try await relations(other.access).0 == .forbidden)
            let missing = try await client.call(.get, "/v1/catalog?customer=nobody", key: reader)
            #expect(missing.status == .notFound)
            let personal = try await client.send(
                uri: "/v1/catalog?customer=\(user.id)", method: .get, headers: [.authorization: "Bearer \(reader)"])
            #expect(personal.headers[.cacheControl] == "private, no-cache")
        }
    }
}

/// `/pricing` and `/embed/pricing`, with each plan's call to action into the portal.
@Suite struct PricingPageTests {
    @Test func plansPricesSavingsAndTheMatrixFromTheCatalog() async throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        try await AppHarness.run(
            .sqlite, catalog: catalog, configure: { $0.embedOrigins = ["https://www.example.com"] }
        ) { _, client in
            func page(_ path: String) async throws -> (String, HTTPFields) {
                let answer = try await client.send(uri: path, method: .get)
                #expect(answer.status == .ok, "\(path)")
                return (String(buffer: answer.body), answer.headers)
            }
            let (monthly, headers) = try await page("/pricing")
            #expect(monthly.contains("<title>Pricing · Memento Note</title>"))
            #expect(
                monthly.contains(#"<article class="card plan highlighted" id="plan-pro">"#)
                    && monthly.contains("9.90 EUR"))
            // The catalog's highlighted plan and taglines; Free as prominent as
            // a price; the per-seat wording.
            #expect(monthly.contains(#"<p class="badge highlight">Most popular</p>"#))
            #expect(monthly.contains(#"<p class="tagline muted">Thinking amplified by AI</p>"#))
            #expect(monthly.contains(#"<span class="amount">Free</span>"#))
            #expect(monthly.contains("+ 3.90 EUR per seat, 20 seats minimum"))
            #expect(monthly.contains("14 days of trial · no card needed"))
            #expect(monthly.contains(#"<table id="feature-matrix">"#) && monthly.contains("AI semantic search"))
            #expect(!monthly.contains("A year saves"))
            #expect(headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            let (yearly, _) = try await page("/pricing?interval=year&currency=USD&lang=fr")
            // 99.00 a year against 9.90 × 12 = 118.80: 16 % saved.
            #expect(yearly.contains("99,00 USD") && yearly.contains("L’année fait économiser 16 %"))
            #expect(yearly.contains(#"<html lang="fr">"#))
            // The catalog's words in French.
            #expect(yearly.contains("Pensée amplifiée par l’IA") && yearly.contains("Recherche sémantique (IA)"))
            let (fallback, _) = try await page("/pricing?interval=weekly&currency=XXX")
            #expect(fallback.contains("9.90 EUR"))
            let (embedded, embedHeaders) = try await page("/embed/pricing")
            #expect(embedded.contains(#"<body class="embedded">"#) && !embedded.contains(#"<header class="top">"#))
            #expect(embedHeaders[HTTPField.Name("X-Frame-Options")!] == nil)
            #expect(embedHeaders[.contentSecurityPolicy]?.contains("frame-ancestors https://www.example.com") == true)

            // Calls to action: sign up for the free plan, the trial, contact sales per seat; in a
            // frame they open the whole window.
            #expect(monthly.contains(#"<a class="button" href="/portal/signup" id="cta-basic">Create an account</a>"#))
            #expect(
                monthly.contains(
                    #"href="/portal/upgrade?plan=pro&amp;interval=month&amp;currency=EUR" id="cta-pro">"#
                        + "Start the trial (14 days)"
                ))
            #expect(monthly.contains(#"id="cta-enterprise">Contact sales</a>"#))
            #expect(embedded.contains(#"target="_top" id="cta-pro""#))
        }
        // Contact sales leads to the team's address when the operator set one.
        try await AppHarness.run(
            .sqlite, catalog: catalog, configure: { $0.salesContact = "mailto:sales@memento.example" }
        ) { _, client in
            let page = String(buffer: try await client.send(uri: "/pricing", method: .get).body)
            #expect(page.contains(#"href="mailto:sales@memento.example" id="cta-enterprise">Contact sales</a>"#))
        }
    }

    @Test func aSignedInUserSeesTheirPlanMarked() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            try await PortalTests.signUp(app, client, email: "ada@example.com")
            let ada = try await PageSession.portal(client, email: "ada@example.com")
            let (_, page, _) = try await ada.get(client, "/pricing")
            #expect(page.contains(#"<p class="badge" id="cta-free">Current plan</p>"#))
            #expect(page.contains(#"id="cta-pro">Choose pro</a>"#))
            let anonymous = String(buffer: try await client.send(uri: "/pricing", method: .get).body)
            #expect(!anonymous.contains("Current plan") && anonymous.contains(#"id="cta-free">Create an account"#))
        }
    }
}
