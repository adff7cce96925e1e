import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

/// The invoice store on both databases — gapless numbers under concurrent
/// finalizations that sometimes fail, the lifecycle's allowed moves, billing details and
/// one-off charges.
@Suite struct InvoiceStoreTests {
    static let eur = Currency("EUR")!

    static func draft(_ id: String, subject: String = "c1", at: Date = Fixtures.utc(2027, 3, 1)) -> InvoiceRecord {
        InvoiceRecord(
            id: id, subject: subject, subscriptionId: nil, currency: eur, periodStart: nil, periodEnd: nil,
            lines: [InvoiceLine(kind: .oneOff, description: "Setup", quantity: 1, unitAmount: 5_000, amount: 5_000)],
            createdAt: at)
    }

    static func finalization(at: Date) -> Finalization {
        Finalization(
            lines: [
                InvoiceLine(
                    kind: .oneOff, description: "Setup", quantity: 1, unitAmount: 5_000, amount: 5_000,
                    taxRate: 2000, taxAmount: 1_000)
            ],
            parties: InvoiceParties(
                seller: nil, buyer: nil,
                treatment: TaxTreatment(kind: .domestic, country: "FR", rate: 2000, mention: nil)),
            numbering: .invoices, at: at, dueAt: at)
    }

    struct Refused: Error {}

    /// The numbers drawn, in the order they were drawn (under the counter row's lock).
    final class Draws: Sendable {
        let entries = Mutex<[(number: String, failed: Bool)]>([])
    }

    /// 200 finalizations at once, one in seven made to fail after drawing its number: the numbers
    /// issued are 1…N without a gap or a repeat, drawn in the order the finalizations committed,
    /// and the failed drafts stay drafts without a number.
    @Test(arguments: TestDatabase.all)
    func concurrentFinalizationsNumberWithoutGapsEvenWhenSomeRollBack(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let count = 200
            for index in 0..<count {
                #expect(try await store.createInvoice(Self.draft("in_\(index)"), claiming: []))
            }
            let failing = Set(stride(from: 3, to: count, by: 7))
            let drawn = Draws()
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        _ = try? await store.finalizeInvoice(
                            id: "in_\(index)", Self.finalization(at: Fixtures.utc(2027, 3, 2)),
                            afterNumbering: { number in
                                drawn.entries.withLock { $0.append((number, failing.contains(index))) }
                                if failing.contains(index) { throw Refused() }
                            })
                    }
                }
            }
            var numbers: [String] = []
            for index in 0..<count {
                let invoice = try #require(try await store.invoice(id: "in_\(index)"))
                if failing.contains(index) {
                    #expect(invoice.status == .draft && invoice.number == nil)
                } else {
                    #expect(invoice.status == .open && invoice.dueAt != nil)
                    numbers.append(try #require(invoice.number))
                }
            }
            let expected = (1...(count - failing.count)).map { String(format: "INV-2027-%06d", $0) }
            #expect(numbers.sorted() == expected, "contiguous and unique")
            let committed = drawn.entries.withLock { $0 }.filter { !$0.failed }.map(\.number)
            #expect(committed == expected, "numbers follow the order of the commits")
            #expect(drawn.entries.withLock { $0.count } == count)
        }
    }

    @Test(arguments: TestDatabase.all)
    func aYearlySeriesStartsAgainAndNumbersAreNeverReused(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            for (id, year) in [("a", 2026), ("b", 2026), ("c", 2027)] {
                _ = try await store.createInvoice(Self.draft(id), claiming: [])
                _ = try await store.finalizeInvoice(
                    id: id, Self.finalization(at: Fixtures.utc(year, 12, 31, 23)), afterNumbering: nil)
            }
            let numbers = try await ["a", "b", "c"].asyncMap { try await store.invoice(id: $0)?.number }
            #expect(numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2027-000001"])
        }
    }

    @Test(arguments: TestDatabase.all)
    func theLifecycleAllowsOnlyItsMoves(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let at = Fixtures.utc(2027, 3, 2)
            _ = try await store.createInvoice(Self.draft("in_1"), claiming: [])
            await #expect(throws: InvoiceStoreError.wrongStatus(.draft)) {
                try await store.transitionInvoice(id: "in_1", .pay, at: at)
            }
            _ = try await store.finalizeInvoice(id: "in_1", Self.finalization(at: at), afterNumbering: nil)
            let uncollectible = try await store.transitionInvoice(id: "in_1", .markUncollectible, at: at)
            #expect(uncollectible.status == .uncollectible && uncollectible.markedUncollectibleAt == at)
            let paid = try await store.transitionInvoice(id: "in_1", .pay, at: at + 60)
            #expect(paid.status == .paid && paid.paidAt == at + 60)
            await #expect(throws: InvoiceStoreError.wrongStatus(.paid)) {
                try await store.transitionInvoice(id: "in_1", .void, at: at)
            }
            let stored = try #require(try await store.invoice(id: "in_1"))
            #expect(stored.status == .paid && stored.total == 6_000 && stored.tax == 1_000 && stored.number != nil)
            #expect(stored.parties?.treatment.rate == 2000)
            await #expect(throws: InvoiceStoreError.notFound) {
                try await store.transitionInvoice(id: "missing", .void, at: at)
            }
            _ = try await store.createInvoice(Self.draft("in_2"), claiming: [])
            #expect(try await store.invoices(subject: "c1", statuses: [.draft]).map(\.id) == ["in_2"])
            #expect(try await store.invoices(subject: "c1", statuses: []).count == 2)
        }
    }

    @Test(arguments: TestDatabase.all)
    func billingDetailsAndOneOffChargesAreKept(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let details = BillingDetails(
                party: InvoiceParty(
                    legalName: "Müller GmbH", addressLines: ["Königstraße 1", "2. OG"], postalCode: "70173",
                    city: "Stuttgart", country: "DE", vatNumber: "DE136695976"),
                paymentTermsDays: 30)
            try await store.setBillingDetails(customer: "c1", details, at: Fixtures.utc(2027, 1, 1))
            #expect(try await store.billingDetails(customer: "c1") == details)
            #expect(try await store.billingDetails(customer: "c2") == nil)
            let item = InvoiceItemRecord(
                id: "ii_1", subject: "c1", kind: "one_off", description: "Onboarding", quantity: 3, unitAmount: 2_500,
                amount: Money(7_500, Self.eur), reference: "one_off:k1", createdAt: Fixtures.utc(2027, 1, 2))
            let (first, created) = try await store.addInvoiceItem(item)
            #expect(created && first == item)
            var again = item
            again.id = "ii_2"
            let (second, createdAgain) = try await store.addInvoiceItem(again)
            #expect(!createdAgain && second.id == "ii_1", "one charge per reference")
            #expect(try await store.pendingInvoiceItems(subject: "c1").map(\.id) == ["ii_1"])
            _ = try await store.createInvoice(Self.draft("in_1"), claiming: ["ii_1"])
            #expect(try await store.pendingInvoiceItems(subject: "c1").isEmpty)
        }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
