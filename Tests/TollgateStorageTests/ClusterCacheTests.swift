import Foundation
import Logging
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

@testable import TollgateMeter

/// Several nodes on one PostgreSQL: a change made through one node reaches the others' caches.
@Suite struct ClusterCacheTests {
    // SQLite is one node: there is no other cache to keep honest.
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func aPlanChangeOnOneNodeIsSeenByAnotherWithinASecond() async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await TestDatabase.postgres.withStore { storeA, location in
            let storeB = try await SQLStore.open(location.location, logger: TestDatabase.logger)
            do {
                try await MeterHarness.withService(store: storeA, catalog: catalog, clock: clock) { nodeA in
                    try await MeterHarness.withService(store: storeB, catalog: catalog, clock: clock) { nodeB in
                        let listening = Task {
                            try await CustomerChangeListener(feed: storeB, service: nodeB, logger: TestDatabase.logger)
                                .run()
                        }
                        defer { listening.cancel() }
                        _ = try await nodeA.customers.createCustomer(id: "c1", email: nil, name: nil)
                        #expect(
                            try await nodeB.customers.customer(id: "c1").planId == "free", "node B has it cached now")

                        _ = try await nodeA.customers.changePlan(customerId: "c1", planId: "pro")
                        let deadline = ContinuousClock.now + .seconds(1)
                        var seen = false
                        while !seen, ContinuousClock.now < deadline {
                            seen = try await nodeB.customers.customer(id: "c1").planId == "pro"
                            if !seen { try await Task.sleep(for: .milliseconds(10)) }
                        }
                        #expect(seen, "node B still answers from its stale cache")
                        #expect(try await nodeB.check(customerId: "c1", featureId: "searches", amount: 1).allowed)
                    }
                }
                await storeB.shutdown()
            } catch {
                await storeB.shutdown()
                throw error
            }
        }
    }
}

/// Three nodes (each a metering service with quota leases and its own committer and connection
/// pool) on one fresh PostgreSQL database; their leases are given back afterwards.
enum ClusterNodes {
    static func withThree(
        catalog: Catalog, clock: ManualClock,
        _ body: @escaping @Sendable ([Meter], SQLStore) async throws -> Void
    ) async throws {
        try await TestDatabase.postgres.withStore { first, location in
            var stores: [SQLStore] = [first]
            for _ in 0..<2 { stores.append(try await SQLStore.open(location.location, logger: TestDatabase.logger)) }
            let nodes = stores.map { store in
                let committer = GroupCommitter(store: store, clock: clock, logger: TestDatabase.logger)
                let service = Meter(
                    customers: CustomerDirectory(
                        catalog: catalog, store: store, clock: clock, logger: TestDatabase.logger), store: store,
                    committer: committer, clock: clock,
                    leases: QuotaLeases(store: store)
                )
                return (service, committer)
            }
            let running = nodes.map { node in Task { try await node.1.run() } }
            do {
                try await body(nodes.map(\.0), first)
            } catch {
                running.forEach { $0.cancel() }
                for store in stores.dropFirst() { await store.shutdown() }
                throw error
            }
            for node in nodes { try await node.0.leases?.releaseAll() }
            running.forEach { $0.cancel() }
            for store in stores.dropFirst() { await store.shutdown() }
        }
    }
}

/// Three nodes metering one counter through leases: together they accept exactly the limit.
@Suite struct QuotaLeaseTests {
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func threeNodesOnOneDatabaseAcceptExactlyTheLimitBetweenThem() async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await ClusterNodes.withThree(catalog: catalog, clock: clock) { nodes, first in
            _ = try await nodes[0].customers.createCustomer(id: "c1", email: nil, name: nil)
            _ = try await nodes[0].customers.changePlan(customerId: "c1", planId: "pro") // searches: 100 a month

            // Every node's callers consume until each is refused.
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, node) in nodes.enumerated() {
                    for caller in 0..<6 {
                        group.addTask {
                            var count = 0
                            for attempt in 0... {
                                let outcome = try await node.consume(
                                    customerId: "c1", featureId: "searches", amount: 1,
                                    idempotencyKey: "n\(index)-\(caller)-\(attempt)")
                                guard outcome.allowed else { return count }
                                count += 1
                            }
                            return count
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(accepted == 100)
            let window = PeriodMath.window(.monthly, containing: Fixtures.utc(2026, 5, 14), anchor: .distantPast)
            #expect(
                try await first.counterValue(
                    CounterKey(
                        subject: "customer:c1", feature: "searches", periodStartMillis: Millis.from(window.start)))
                    == 100)
            #expect(try await nodes[1].check(customerId: "c1", featureId: "searches", amount: 1).allowed == false)
        }
    }
}

/// Bursts of concurrent consumes over three nodes, three times the
/// limit, accept exactly the limit every round (no refusal while units remain), and every
/// refusal reports a count that was committed.
@Suite struct ClusterBurstTests {
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func burstsOverThreeNodesAcceptExactlyTheLimit() async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await ClusterNodes.withThree(catalog: catalog, clock: clock) { nodes, first in
            for round in 0..<4 {
                let customer = "burst\(round)"
                _ = try await nodes[0].customers.createCustomer(id: customer, email: nil, name: nil)
                _ = try await nodes[0].customers.changePlan(customerId: customer, planId: "pro") // searches: 100
                let outcomes = try await withThrowingTaskGroup(of: UsageOutcome.self) { group in
                    for index in 0..<300 {
                        group.addTask {
                            try await nodes[index % 3].consume(
                                customerId: customer, featureId: "searches", amount: 1,
                                idempotencyKey: "\(round)-\(index)")
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.filter(\.allowed).count == 100, "round \(round)")
                let refusals = outcomes.filter { !$0.allowed }
                #expect(refusals.allSatisfy { $0.used <= 100 && $0.remaining == 100 - $0.used }, "round \(round)")
                let window = PeriodMath.window(.monthly, containing: clock.now(), anchor: .distantPast)
                let key = CounterKey(
                    subject: "customer:\(customer)", feature: "searches", periodStartMillis: Millis.from(window.start))
                #expect(try await first.counterValue(key) == 100, "round \(round)")
            }
        }
    }
}

/// Copies of one idempotency key sent to three nodes at once, under a tight
/// quota, all get the same answer — and exactly what the answers say is counted.
@Suite struct ClusterCopiesTests {
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func copiesOfOneKeyOnThreeNodesAgree() async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await ClusterNodes.withThree(catalog: catalog, clock: clock) { nodes, first in
            _ = try await nodes[0].customers.createCustomer(id: "c1", email: nil, name: nil)
            _ = try await nodes[0].customers.changePlan(customerId: "c1", planId: "pro") // searches: 100
            _ = try await nodes[0].consume(customerId: "c1", featureId: "searches", amount: 90, idempotencyKey: "bulk")
            // 40 keys, each sent to every node at once, for the last 10 units.
            let answers = try await withThrowingTaskGroup(of: (Int, UsageOutcome).self) { group in
                for key in 0..<40 {
                    for node in nodes {
                        group.addTask {
                            (
                                key,
                                try await node.consume(
                                    customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "k\(key)")
                            )
                        }
                    }
                }
                return try await group.reduce(into: [Int: [UsageOutcome]]()) { $0[$1.0, default: []].append($1.1) }
            }
            for (key, copies) in answers.sorted(by: { $0.key < $1.key }) {
                #expect(Set(copies.map(\.allowed)).count == 1, "key k\(key): \(copies.map(\.allowed))")
            }
            let allowedKeys = answers.values.filter { $0.allSatisfy(\.allowed) }.count
            let window = PeriodMath.window(.monthly, containing: clock.now(), anchor: .distantPast)
            let counted = try await first.counterValue(
                CounterKey(subject: "customer:c1", feature: "searches", periodStartMillis: Millis.from(window.start)))
            #expect(counted == 90 + Int64(allowedKeys) && counted <= 100)
        }
    }
}

/// A spend cap spans features and nodes: three nodes consuming two overage-priced features of one
/// capped customer together never spend more than the cap, and stop only when nothing more fits.
@Suite struct ClusterSpendCapTests {
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func threeNodesNeverSpendPastOneCustomersCap() async throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/saas-starter.yaml"))
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await ClusterNodes.withThree(catalog: catalog, clock: clock) { nodes, _ in
            _ = try await nodes[0].customers.createCustomer(id: "u1", email: nil, name: nil)
            // Pro: 100,000 calls, 500 GB, then overage.
            _ = try await nodes[0].customers.changePlan(customerId: "u1", planId: "pro")
            _ = try await nodes[0].customers.setSpendCap(customerId: "u1", cap: Money(1000, Currency("EUR")!))
            #expect(
                try await nodes[1].consume(
                    customerId: "u1", featureId: "api_calls", amount: 100_000, idempotencyKey: "fill-a"
                ).allowed)
            #expect(
                try await nodes[2].consume(
                    customerId: "u1", featureId: "bandwidth_gb", amount: 500, idempotencyKey: "fill-b"
                ).allowed)
            // Every node's callers alternate features until each is refused.
            let accepted = try await withThrowingTaskGroup(of: [String: Int].self) { group in
                for (index, node) in nodes.enumerated() {
                    for caller in 0..<4 {
                        group.addTask {
                            var counts: [String: Int] = [:]
                            for attempt in 0..<200 {
                                let feature = (attempt + caller).isMultiple(of: 2) ? "bandwidth_gb" : "api_calls"
                                let outcome = try await node.consume(
                                    customerId: "u1", featureId: feature, amount: feature == "api_calls" ? 1000 : 1,
                                    idempotencyKey: "n\(index)-\(caller)-\(attempt)"
                                )
                                if outcome.allowed { counts[feature, default: 0] += 1 }
                            }
                            return counts
                        }
                    }
                }
                return try await group.reduce(into: [String: Int]()) { total, counts in
                    total.merge(counts, uniquingKeysWith: +)
                }
            }
            // Calls cost 0.50 per 1,000 and bandwidth 0.08 per GB: at most 10.00 in all.
            let spent = (accepted["api_calls"] ?? 0) * 50 + (accepted["bandwidth_gb"] ?? 0) * 8
            #expect(spent <= 1000, "\(accepted)")
            #expect(spent > 1000 - 8, "refused only when nothing more fits: \(accepted)")
            // Every node's invoice lines read the committed counts: all nodes' consumes, once.
            for node in nodes {
                let lines = try await OverageBilling(meter: node).overageLines(
                    customerId: "u1", at: clock.now(), currency: Currency("EUR")!)
                #expect(lines.reduce(0) { $0 + $1.amount } == Int64(spent), "\(lines)")
            }
        }
    }
}

/// A customer's change (a lower limit) makes a node stop using what it holds of their leases.
@Suite struct LeaseAbandonTests {
    @Test(arguments: TestDatabase.all)
    func aChangedCustomersLeasesAreNoLongerUsed(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            // A clock that stands still: on a loaded machine a grant may take longer than a
            // lease lives, and this test is about whose lease is used, not about time.
            let frozen = ContinuousClock.now
            let leases = QuotaLeases(store: store, now: { frozen })
            let key = CounterKey(subject: "customer:c1", feature: "searches", periodStartMillis: 0)
            let other = CounterKey(subject: "customer:c2", feature: "searches", periodStartMillis: 0)
            for counter in [key, other] {
                _ = try await leases.refill(counter, period: "lifetime", periodEndMillis: nil, limit: 1000, amount: 1)
            }
            // A grant takes an eighth of what is left: 125 of 1,000.
            #expect(leases.take(key, amount: 1) != nil && leases.take(other, amount: 1) != nil)
            leases.abandon(subject: "customer:c1")
            #expect(leases.take(key, amount: 1) == nil, "c1's leftover is no longer used")
            #expect(leases.take(other, amount: 1) != nil, "other customers keep theirs")
            // The next grant counts only the units still in flight as held.
            _ = try await leases.refill(key, period: "lifetime", periodEndMillis: nil, limit: 1000, amount: 1)
            #expect(leases.take(key, amount: 1) != nil)
        }
    }
}
