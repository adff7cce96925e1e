import Foundation
import PropertyBased
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// The meter over real stores: exact under concurrency, idempotent, period-aware, durable.
@Suite struct MeterTests {
    func withMeter<T: Sendable>(
        _ database: TestDatabase, clock: ManualClock = ManualClock(Fixtures.utc(2026, 5, 14)),
        _ body: @escaping @Sendable (Meter, SQLStore) async throws -> T
    ) async throws -> T {
        let catalog = try Fixtures.catalog
        return try await database.withStore { store, _ in
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                try await body(service, store)
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func concurrentConsumersNeverExceedTheLimit(database: TestDatabase) async throws {
        try await withMeter(database) { service, store in
            _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
            _ = try await service.customers.changePlan(customerId: "c1", planId: "pro")
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await service.consume(
                            customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "k\(index)"
                        ).allowed
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 100)
            let window = PeriodMath.window(.monthly, containing: Fixtures.utc(2026, 5, 14), anchor: .distantPast)
            let stored = try await store.counterValue(
                CounterKey(subject: "customer:c1", feature: "searches", periodStartMillis: Millis.from(window.start)))
            #expect(stored == 100)
        }
    }

    @Test(arguments: TestDatabase.all)
    func aRetriedConsumeReturnsTheFirstAnswerAndCountsOnce(database: TestDatabase) async throws {
        try await withMeter(database) { service, _ in
            _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
            let first = try await service.consume(
                customerId: "c1", featureId: "starter", amount: 2, idempotencyKey: "same")
            let again = try await service.consume(
                customerId: "c1", featureId: "starter", amount: 2, idempotencyKey: "same")
            #expect(first == again && first.used == 2)
            // Concurrent duplicates of a new key: one is counted, all get its answer.
            let answers = try await withThrowingTaskGroup(of: UsageOutcome.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await service.consume(
                            customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "burst")
                    }
                }
                return try await group.reduce(into: [UsageOutcome]()) { $0.append($1) }
            }
            #expect(Set(answers).count == 1 && answers[0].used == 3)
            let check = try await service.check(customerId: "c1", featureId: "starter", amount: 1)
            #expect(check.used == 3 && check.remaining == 2)
            await #expect(throws: DomainError.self) {
                try await service.consume(customerId: "c1", featureId: "starter", amount: 5, idempotencyKey: "same")
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func aRetryAfterRestartIsAnsweredFromTheStore(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { store, _ in
            let first = try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                return try await service.consume(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "k")
            }
            // A new service has empty memory, as after a restart.
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                let replay = try await service.consume(
                    customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "k")
                #expect(replay == first)
                #expect(try await service.check(customerId: "c1", featureId: "starter", amount: 1).used == 1)
                // With the quota used up since, the retry is still the first answer, not a refusal.
                #expect(
                    try await service.consume(customerId: "c1", featureId: "starter", amount: 4, idempotencyKey: "fill")
                        .allowed)
                #expect(
                    try await service.consume(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "k")
                        == first)
                #expect(
                    try await service.consume(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "new")
                        .allowed == false)
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func monthlyQuotasTurnOverAndLifetimeOnesNever(database: TestDatabase) async throws {
        let clock = ManualClock(Fixtures.endOfJanuary)
        try await withMeter(database, clock: clock) { service, _ in
            _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
            // Lifetime starter pack on the free plan: 5 in all.
            let starter = try await service.consume(
                customerId: "c1", featureId: "starter", amount: 5, idempotencyKey: "s1")
            #expect(starter.allowed && starter.remaining == 0 && starter.resetsAt == nil)
            _ = try await service.customers.changePlan(customerId: "c1", planId: "pro")
            let january = try await service.consume(
                customerId: "c1", featureId: "searches", amount: 100, idempotencyKey: "j1")
            #expect(january.allowed && january.resetsAt == Fixtures.utc(2026, 2, 1))
            #expect(
                try await service.consume(customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "j2")
                    .reason == .userQuotaExhausted)
            clock.advance(by: 1) // 2026-02-01 00:00:00 UTC
            let february = try await service.consume(
                customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "f1")
            #expect(february.allowed && february.used == 1 && february.resetsAt == Fixtures.utc(2026, 3, 1))
            _ = try await service.customers.changePlan(customerId: "c1", planId: "free")
            clock.advance(by: 86_400 * 400)
            let later = try await service.consume(
                customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "s2")
            #expect(!later.allowed && later.reason == .userQuotaExhausted && later.upgradeTier == "pro")
        }
    }

    @Test(arguments: TestDatabase.all)
    func refusalsAndLimitReleases(database: TestDatabase) async throws {
        try await withMeter(database) { service, _ in
            _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
            let tier = try await service.consume(
                customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "t")
            #expect(!tier.allowed && tier.reason == .tierLimited && tier.upgradeTier == "pro")
            #expect(
                try await service.consume(customerId: "c1", featureId: "notes", amount: 3, idempotencyKey: "n1").allowed
            )
            #expect(
                try await service.consume(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "n2").reason
                    == .userQuotaExhausted)
            let released = try await service.release(
                customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "r1")
            #expect(released.used == 1 && released.amount == 2)
            #expect(
                try await service.release(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "r1")
                    == released)
            let floor = try await service.release(customerId: "c1", featureId: "notes", amount: 5, idempotencyKey: "r2")
            #expect(floor.used == 0 && floor.amount == 1)
            await #expect(throws: DomainError.self) {
                try await service.release(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "r3")
            }
            await #expect(throws: DomainError.self) {
                try await service.consume(customerId: "c1", featureId: "api_access", amount: 1, idempotencyKey: "b")
            }
            await #expect(throws: DomainError.self) {
                try await service.consume(customerId: "c1", featureId: "notes", amount: 0, idempotencyKey: "z")
            }
            await #expect(throws: DomainError.self) {
                try await service.consume(customerId: "ghost", featureId: "notes", amount: 1, idempotencyKey: "g")
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func aFailedCommitCountsNothingAndAnswersWithAnError(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await database.withStore { base, _ in
            let flaky = FlakyProvider(base: base.provider)
            let store = SQLStore(provider: flaky)
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                #expect(
                    try await service.consume(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "a").used
                        == 1)
                flaky.failWrites.store(true, ordering: .relaxed)
                await #expect(throws: MeterError.commitFailed) {
                    try await service.consume(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "b")
                }
                flaky.failWrites.store(false, ordering: .relaxed)
                #expect(try await service.check(customerId: "c1", featureId: "notes", amount: 1).used == 1)
                // The failed key was not stored: retrying it now counts it.
                #expect(
                    try await service.consume(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "b").used
                        == 3)
            }
            #expect(
                try await base.counterValue(CounterKey(subject: "customer:c1", feature: "notes", periodStartMillis: 0))
                    == 3)
        }
    }

    /// Random interleavings of consumes and releases, with repeated idempotency keys, against a
    /// plain model: the meter, the store and the model always agree and the limit always holds.
    @Test func meterAgreesWithAModelUnderRandomOperations() async throws {
        let catalog = try Fixtures.catalog
        let operations = zip(Gen.bool(0.7), Gen.int64(in: 1...3), Gen.int(in: 0...12)).array(of: 1...40)
        try await TestDatabase.sqlite.withStore { store, _ in
            let round = Atomic<Int>(0)
            await propertyCheck(count: 25, input: operations) { ops in
                let customer = "p\(round.wrappingAdd(1, ordering: .relaxed).oldValue)"
                try await MeterHarness.withService(
                    store: store, catalog: catalog, clock: ManualClock(Fixtures.utc(2026, 5, 14))
                ) { service in
                    _ = try await service.customers.createCustomer(id: customer, email: nil, name: nil)
                    var used: Int64 = 0
                    // Recorded answers by key, with the amount that was asked for.
                    var answered: [String: (requested: Int64, outcome: UsageOutcome)] = [:]
                    for (isConsume, amount, keyIndex) in ops {
                        let key = "\(isConsume ? "c" : "r")\(keyIndex)"
                        func call() async throws -> UsageOutcome {
                            isConsume
                                ? try await service.consume(
                                    customerId: customer, featureId: "notes", amount: amount, idempotencyKey: key)
                                : try await service.release(
                                    customerId: customer, featureId: "notes", amount: amount, idempotencyKey: key)
                        }
                        if let previous = answered[key] {
                            if previous.requested == amount {
                                #expect(try await call() == previous.outcome, "replay of \(key)")
                            } else {
                                await #expect(throws: DomainError.self, "\(key) reused for another amount") {
                                    try await call()
                                }
                            }
                            continue
                        }
                        let outcome = try await call()
                        if isConsume {
                            #expect(outcome.allowed == (used + amount <= 3))
                            if outcome.allowed {
                                used += amount
                                answered[key] = (amount, outcome)
                            }
                        } else {
                            used -= min(used, amount)
                            answered[key] = (amount, outcome)
                        }
                        #expect(outcome.used == used && used <= 3)
                    }
                    #expect(
                        try await store.counterValue(
                            CounterKey(subject: "customer:\(customer)", feature: "notes", periodStartMillis: 0)) == used
                    )
                }
            }
        }
    }
}
