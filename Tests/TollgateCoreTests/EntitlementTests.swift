import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct EntitlementTests {
    let now = Fixtures.utc(2026, 5, 14)

    func decide(_ planId: String, _ featureId: String, used: Int64, amount: Int64, catalog: Catalog) throws -> Decision
    {
        let plan = try #require(catalog.plan(planId))
        let feature = try #require(catalog.feature(featureId))
        let quota = Entitlements.quota(catalog: catalog, plan: plan, feature: feature, now: now, anchor: now)
        return Entitlements.decide(catalog: catalog, plan: plan, quota: quota, used: used, amount: amount)
    }

    @Test func aFeatureThePlanLacksIsTierLimitedWithTheCheapestUpgrade() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        let chat = try decide("basic", "chat", used: 0, amount: 1, catalog: catalog)
        #expect(!chat.allowed && chat.reason == .tierLimited && chat.upgradeTier == "pro")
        let summary = try decide("pro", "notebook_summary", used: 0, amount: 1, catalog: catalog)
        #expect(summary.reason == .tierLimited && summary.upgradeTier == "business")
        let sso = try decide("business", "sso", used: 0, amount: 1, catalog: catalog)
        #expect(sso.reason == .tierLimited && sso.upgradeTier == "enterprise")
    }

    @Test func anExhaustedQuotaSuggestsAPlanWithMore() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        let starter = try decide("basic", "semantic_search", used: 30, amount: 1, catalog: catalog)
        #expect(!starter.allowed && starter.reason == .userQuotaExhausted && starter.upgradeTier == "pro")
        #expect(starter.resetsAt == nil && starter.remaining == 0 && starter.limit == 30)
        let pro = try decide("pro", "semantic_search", used: 99, amount: 2, catalog: catalog)
        #expect(pro.reason == .userQuotaExhausted && pro.upgradeTier == "business" && pro.remaining == 1)
        #expect(pro.resetsAt == Fixtures.utc(2026, 6, 1))
        let top = try decide("enterprise", "reformulate", used: 2000, amount: 1, catalog: catalog)
        #expect(top.reason == .userQuotaExhausted && top.upgradeTier == nil)
    }

    @Test func unlimitedAndBooleanGrants() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        let unlimited = try decide("enterprise", "chat", used: 1_000_000, amount: 1_000, catalog: catalog)
        #expect(unlimited.allowed && unlimited.limit == nil && unlimited.remaining == nil)
        let api = try decide("business", "api_access", used: 0, amount: 1, catalog: catalog)
        #expect(api.allowed && api.limit == nil)
    }

    @Test func addOnsRaiseLimitsOnlyOnTheirPlans() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        let collaborators = try #require(catalog.feature("collaborators"))
        let business = try #require(catalog.plan("business"))
        let pro = try #require(catalog.plan("pro"))
        let raised = Entitlements.quota(
            catalog: catalog, plan: business, feature: collaborators,
            addOnQuantities: ["collaborators_5": 1, "collaborators_10": 2], now: now, anchor: now)
        #expect(raised.limit == .finite(35))
        let ignored = Entitlements.quota(
            catalog: catalog, plan: pro, feature: collaborators,
            addOnQuantities: ["collaborators_5": 1], now: now, anchor: now)
        #expect(ignored.limit == .finite(0) && !ignored.included)
    }

    /// Whatever sequence of requests arrives, a counter that only adds what `decide` allows never
    /// passes its limit, and it refuses exactly when the request would not fit.
    @Test func acceptedUsageNeverExceedsTheLimit() async throws {
        let catalog = try Fixtures.catalog
        let plan = try #require(catalog.plan("pro"))
        let feature = try #require(catalog.feature("searches"))
        let quota = Entitlements.quota(catalog: catalog, plan: plan, feature: feature, now: now, anchor: now)
        await propertyCheck(count: 300, input: Gen.int64(in: 1...40).array(of: 0...120)) { amounts in
            var used: Int64 = 0
            for amount in amounts {
                let decision = Entitlements.decide(
                    catalog: catalog, plan: plan, quota: quota, used: used, amount: amount)
                #expect(decision.allowed == (used + amount <= 100))
                if decision.allowed { used += amount }
                #expect(used <= 100)
            }
        }
    }
}
