import Foundation
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct CatalogTests {
    @Test(arguments: ["memento", "ai-gate", "renzo", "saas-starter"])
    func bundledCatalogsAreValid(name: String) throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/\(name).yaml"))
        #expect(catalog.product == name)
        #expect(catalog.plan(catalog.defaultPlanId)?.isFree == true)
    }

    /// Who may buy a plan alone: never one priced per seat (sold by the team), nor one with no
    /// price in the currency and interval looked at.
    @Test func aPlanSoldByAPersonIsNeverSelfServed() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        let eur = Currency("EUR")!, jpy = Currency("JPY")!
        #expect(try #require(catalog.plan("basic")).offer(currency: eur, interval: .year) == .free)
        let pro = try #require(catalog.plan("pro"))
        guard case .selfServe(let price) = pro.offer(currency: eur, interval: .year) else {
            Issue.record("Pro is bought alone, yearly in EUR")
            return
        }
        #expect(price.amount == 9900)
        #expect(pro.offer(currency: jpy, interval: .month) == .salesOnly(minimumSeats: nil), "no price in JPY")
        let enterprise = try #require(catalog.plan("enterprise"))
        for interval in [BillingInterval.month, .year] {
            #expect(enterprise.offer(currency: eur, interval: interval) == .salesOnly(minimumSeats: 20))
        }
    }

    @Test func mementoMatchesSeedTables() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        #expect(catalog.plans.map(\.id) == ["basic", "pro", "business", "enterprise"])
        let basic = try #require(catalog.plan("basic"))
        #expect(basic.features["notes"] == .limit(.finite(100)))
        #expect(basic.features["notebooks"] == .limit(.finite(3)))
        #expect(basic.features["semantic_search"] == .metered(.finite(30), .lifetime, overage: nil))
        #expect(basic.features["auto_tag"] == .metered(.finite(20), .lifetime, overage: nil))
        #expect(basic.features["auto_title"] == .metered(.finite(10), .lifetime, overage: nil))
        #expect(basic.features["chat"] == nil)
        let pro = try #require(catalog.plan("pro"))
        #expect(pro.trial == Trial(days: 14, requiresPaymentMethod: false))
        #expect(
            pro.prices.contains(
                Price(
                    currency: Currency("EUR")!, interval: .month, amount: 990, perSeatAmount: nil, minimumSeats: nil,
                    maximumSeats: nil, stripePriceId: nil)))
        let expectedPro: [String: Int64] = [
            "auto_title": 200, "auto_tag": 200, "semantic_search": 100, "reformulate": 50, "chat": 100,
        ]
        for (feature, limit) in expectedPro {
            #expect(pro.features[feature] == .metered(.finite(limit), .monthly, overage: nil), "pro \(feature)")
        }
        let business = try #require(catalog.plan("business"))
        #expect(business.trial == nil)
        let expectedBusiness: [String: Int64] = [
            "auto_title": 1000, "auto_tag": 1000, "semantic_search": 1000, "reformulate": 500,
            "notebook_summary": 50, "memory_echo": 100, "web_scraper_agent": 20, "chat": 1000,
        ]
        for (feature, limit) in expectedBusiness {
            #expect(
                business.features[feature] == .metered(.finite(limit), .monthly, overage: nil), "business \(feature)")
        }
        #expect(business.features["collaborators"] == .limit(.finite(10)))
        let enterprise = try #require(catalog.plan("enterprise"))
        let eur = try #require(enterprise.prices.first { $0.currency.code == "EUR" })
        #expect(eur.amount == 4990 && eur.perSeatAmount == 390 && eur.minimumSeats == 20 && eur.maximumSeats == 500)
        #expect(enterprise.features["semantic_search"] == .metered(.unlimited, .monthly, overage: nil))
        #expect(enterprise.features["reformulate"] == .metered(.finite(2000), .monthly, overage: nil))
        #expect(catalog.addOns.map(\.id) == ["collaborators_5", "collaborators_10"])
    }

    @Test func bundledDefaultCatalogIsTheMementoFile() throws {
        let shipped = try String(contentsOfFile: Repository.path("catalogs/memento.yaml"), encoding: .utf8)
        let bundled = try String(
            contentsOfFile: Repository.path("Sources/TollgateServer/Resources/memento.yaml"), encoding: .utf8)
        #expect(shipped == bundled, "copy catalogs/memento.yaml to Sources/TollgateServer/Resources/")
    }

    @Test func reportsEveryErrorWithItsKeyPath() throws {
        let yaml = """
            product: broken
            defaultPlan: missing
            features:
              notes: { type: limit }
              Bad-Id: { type: metered }
              search: { type: metered, colour: red }
            plans:
              - id: free
                order: 0
                features:
                  notes: -5
                  unknown_feature: 3
                  search: { limit: 10, period: weekly }
              - id: free
                order: 0
                prices:
                  - { amount: 990 }
                  - { currency: EURO, amount: 10 }
            addOns:
              - id: seats
                plans: [nope]
                features: { notes: 0 }
            """
        let error = #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: yaml) }
        let paths = Set(error?.issues.map(\.path) ?? [])
        let expected: Set<String> = [
            "defaultPlan", "features.Bad-Id", "features.search.colour", "plans[0].features.notes",
            "plans[0].features.unknown_feature", "plans[0].features.search.period", "plans[1].id", "plans[1].order",
            "plans[1].prices[0].currency", "plans[1].prices[1].currency", "addOns[0].plans[0]",
            "addOns[0].features.notes",
        ]
        #expect(expected.subtracting(paths).isEmpty, "missing: \(expected.subtracting(paths)); got \(paths)")
        let negative = error?.issues.first { $0.path == "plans[0].features.notes" }
        #expect(negative?.message == "must not be negative")
        #expect(negative?.line == 11)
        #expect(error?.description.contains("plans[1].prices[0].currency") == true)
    }

    /// Taglines and feature names in several languages, one highlighted plan.
    @Test func taglinesNamesInLanguagesAndOneHighlightedPlan() throws {
        let good = """
            product: p
            defaultPlan: free
            features:
              notes: { type: limit, name: { en: Notes, fr: Carnets } }
            plans:
              - { id: free, order: 0, tagline: Start here, features: { notes: 3 } }
              - id: pro
                order: 1
                highlight: true
                tagline: { en: For pros, fr: Pour les pros }
                prices: [{ currency: EUR, interval: month, amount: 990 }]
            """
        let catalog = try CatalogLoader.load(yaml: good)
        #expect(catalog.feature("notes")?.name(in: "fr") == "Carnets" && catalog.feature("notes")?.name == "Notes")
        #expect(catalog.plan("pro")?.tagline?.text(in: "fr-CA") == "Pour les pros")
        #expect(
            catalog.plan("free")?.tagline?.text(in: "fr") == "Start here" && catalog.plan("pro")?.highlighted == true)
        let bad = """
            product: p
            defaultPlan: free
            features:
              notes: { type: limit, name: { fr: Carnets } }
            plans:
              - { id: free, order: 0, highlight: true, tagline: { en: A, de: B } }
              - { id: pro, order: 1, highlight: true, prices: [{ currency: EUR, interval: month, amount: 9 }] }
            """
        let error = #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: bad) }
        let paths = Set(error?.issues.map(\.path) ?? [])
        #expect(paths.isSuperset(of: ["features.notes.name", "plans[0].tagline.de", "plans"]), "\(paths)")
    }

    /// The product's colour for its mail, checked as `#rrggbb`.
    @Test func brandingIsAColour() throws {
        let base = """
            product: p
            defaultPlan: free
            features: { notes: { type: limit } }
            plans: [{ id: free, order: 0 }]
            """
        #expect(try CatalogLoader.load(yaml: base + "\nbranding: { color: \"#0F766E\" }").brandColor == "#0f766e")
        #expect(try CatalogLoader.load(yaml: base).brandColor == nil)
        for bad in ["branding: { color: red }", "branding: { color: \"#12345\" }", "branding: { colour: \"#123456\" }"]
        {
            let error = #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: base + "\n" + bad) }
            #expect(error?.issues.first?.path.hasPrefix("branding") == true, "\(bad)")
        }
    }

    @Test func rejectsEmptyAndNonYAMLInput() {
        #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: "") }
        #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: "plans: [unclosed") }
        #expect(throws: CatalogError.self) { try CatalogLoader.load(yaml: "- just\n- a list") }
    }

    @Test func moneyIsFormattedFromIntegers() {
        #expect(Money(990, Currency("eur")!).description == "9.90 EUR")
        #expect(Money(-5, Currency("USD")!).description == "-0.05 USD")
        #expect(Money(1200, Currency("JPY")!).description == "1200 JPY")
        #expect(Money(1234, Currency("KWD")!).description == "1.234 KWD")
        #expect(Currency("EU") == nil && Currency("E1R") == nil)
    }
}
