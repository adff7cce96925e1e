import Foundation
import PropertyBased
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// `consume(batch:)`: every consume answered as `consume` would answer it one by one, with one
/// commit for the batch; exact under concurrency and across restarts.
@Suite struct BatchConsumeTests {
    static let may14 = Fixtures.utc(2026, 5, 14)

    static func counter(_ store: SQLStore, _ customer: String, _ feature: String, monthly: Bool) async throws -> Int64 {
        let start =
            monthly ? Millis.from(PeriodMath.window(.monthly, containing: may14, anchor: .distantPast).start) : 0
        return try await store.counterValue(
            CounterKey(subject: "customer:\(customer)", feature: feature, periodStartMillis: start))
    }

    static let mixed: [ConsumeRequest] = [
        ConsumeRequest(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "a"),
        ConsumeRequest(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "b"), // 4 > 3: refused
        // key "a" for another request
        ConsumeRequest(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "a"),
        ConsumeRequest(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "a"), // the same request again
        ConsumeRequest(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "c"),
        // another customer's key space
        ConsumeRequest(customerId: "c2", featureId: "searches", amount: 5, idempotencyKey: "a"),
        ConsumeRequest(customerId: "c1", featureId: "api_access", amount: 1, idempotencyKey: "d"),
        ConsumeRequest(customerId: "ghost", featureId: "notes", amount: 1, idempotencyKey: "e"),
        ConsumeRequest(customerId: "c1", featureId: "starter", amount: 1, idempotencyKey: "f"),
    ]

    static func code(_ result: Result<UsageOutcome, any Error>) -> ErrorCode? {
        guard case .failure(let error) = result else { return nil }
        return (error as? DomainError)?.code
    }

    @Test(arguments: TestDatabase.all)
    func aBatchAnswersEachConsumeAsOneByOneAndARetryCountsNothing(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        try await database.withStore { store, _ in
            let clock = ManualClock(Self.may14)
            let first = try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                _ = try await service.customers.createCustomer(id: "c2", email: nil, name: nil)
                _ = try await service.customers.changePlan(customerId: "c2", planId: "pro")
                let results = await service.consume(batch: Self.mixed)
                let outcomes = results.map { try? $0.get() }
                #expect(outcomes[0]?.allowed == true && outcomes[0]?.used == 2)
                #expect(
                    outcomes[1]?.allowed == false && outcomes[1]?.reason == .userQuotaExhausted
                        && outcomes[1]?.used == 2)
                #expect(Self.code(results[2]) == .idempotencyKeyReused)
                #expect(outcomes[3] == outcomes[0])
                #expect(outcomes[4]?.allowed == true && outcomes[4]?.used == 3)
                #expect(outcomes[5]?.allowed == true && outcomes[5]?.used == 5 && outcomes[5]?.customer == "c2")
                #expect(Self.code(results[6]) == .invalidField)
                #expect(Self.code(results[7]) == .customerNotFound)
                #expect(outcomes[8]?.allowed == true && outcomes[8]?.used == 1)
                // The same batch again: the stored answers, nothing counted twice.
                let again = await service.consume(batch: Self.mixed).map { try? $0.get() }
                for index in [0, 3, 4, 5, 8] { #expect(again[index] == outcomes[index], "replay of \(index)") }
                #expect(again[1]?.allowed == false)
                return outcomes
            }
            // After a restart the keys are found only in the database (the commit's conflict).
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                let replayed = await service.consume(batch: Self.mixed).map { try? $0.get() }
                for index in [0, 3, 4, 5, 8] {
                    #expect(replayed[index] == first[index], "replay of \(index) after a restart")
                }
                // Nothing held for the replays: the one unit left of a fresh counter is free.
                let fresh = await service.consume(batch: [
                    ConsumeRequest(customerId: "c1", featureId: "starter", amount: 4, idempotencyKey: "g")
                ])
                let topUp = try fresh[0].get()
                #expect(topUp.used == 5)
            }
            #expect(try await Self.counter(store, "c1", "notes", monthly: false) == 3)
            #expect(try await Self.counter(store, "c2", "searches", monthly: true) == 5)
            #expect(try await Self.counter(store, "c1", "starter", monthly: false) == 5)
        }
    }

    /// A retry of an answered key holds its units until the commit finds it answered; a consume
    /// after it in the same batch that was refused meanwhile is decided again.
    @Test(arguments: TestDatabase.all)
    func unitsHeldForARetryDoNotRefuseTheRestOfTheBatch(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        try await database.withStore { store, _ in
            let clock = ManualClock(Self.may14)
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                _ = try await service.consume(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "old")
            }
            try await MeterHarness.withService(store: store, catalog: catalog, clock: clock) { service in
                let results = await service.consume(batch: [
                    ConsumeRequest(customerId: "c1", featureId: "notes", amount: 1, idempotencyKey: "old"),
                    ConsumeRequest(customerId: "c1", featureId: "notes", amount: 2, idempotencyKey: "new"),
                ])
                let replay = try results[0].get()
                #expect(replay.used == 1)
                let second = try results[1].get()
                #expect(second.allowed && second.used == 3)
            }
            #expect(try await Self.counter(store, "c1", "notes", monthly: false) == 3)
        }
    }

    @Test(arguments: TestDatabase.all)
    func batchesAndSingleConsumesTogetherNeverExceedTheLimit(database: TestDatabase) async throws {
        let catalog = try Fixtures.catalog
        try await database.withStore { store, _ in
            try await MeterHarness.withService(store: store, catalog: catalog, clock: ManualClock(Self.may14)) {
                service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                _ = try await service.customers.changePlan(customerId: "c1", planId: "pro")
                let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                    for caller in 0..<8 {
                        group.addTask {
                            let batch = (0..<20).map {
                                ConsumeRequest(
                                    customerId: "c1", featureId: "searches", amount: 1,
                                    idempotencyKey: "b\(caller)-\($0)")
                            }
                            return try await service.consume(batch: batch).filter { try $0.get().allowed }.count
                        }
                        group.addTask {
                            var allowed = 0
                            for index in 0..<10
                            where try await service.consume(
                                customerId: "c1", featureId: "searches", amount: 1,
                                idempotencyKey: "s\(caller)-\(index)"
                            ).allowed {
                                allowed += 1
                            }
                            return allowed
                        }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(accepted == 100)
            }
            #expect(try await Self.counter(store, "c1", "searches", monthly: true) == 100)
        }
    }

    /// Random batches (keys repeated within and across them, amounts varied) against a plain
    /// model. A batch without a retry of an earlier batch, and without a key reused for another
    /// request, answers exactly as one-by-one calls in its order. With retries (whose units are
    /// held until the commit finds them answered), a batch answers as concurrent calls may:
    /// replays are the first answers, the limit holds, everything allowed is counted, and nothing
    /// is refused that would fit after the batch.
    @Test func batchesAgreeWithAOneByOneModel() async throws {
        let catalog = try Fixtures.catalog
        let request = zip(Gen.int64(in: 1...3), Gen.int(in: 0...9))
        let batches = request.array(of: 1...8).array(of: 1...6)
        try await TestDatabase.sqlite.withStore { store, _ in
            let round = Atomic<Int>(0)
            await propertyCheck(count: 40, input: batches) { batches in
                let customer = "q\(round.wrappingAdd(1, ordering: .relaxed).oldValue)"
                try await MeterHarness.withService(store: store, catalog: catalog, clock: ManualClock(Self.may14)) {
                    service in
                    _ = try await service.customers.createCustomer(id: customer, email: nil, name: nil)
                    var used: Int64 = 0
                    var answered: [String: (amount: Int64, outcome: UsageOutcome)] = [:]
                    for batch in batches {
                        let requests = batch.map {
                            ConsumeRequest(
                                customerId: customer, featureId: "notes", amount: $0.0, idempotencyKey: "k\($0.1)")
                        }
                        // A key reused for another request in the batch waits for the first use's
                        // answer, so it is decided after the batch, as concurrent calls may be.
                        let amountsByKey = Dictionary(grouping: requests, by: \.idempotencyKey)
                            .mapValues { Set($0.map(\.amount)) }
                        let exact =
                            requests.allSatisfy { answered[$0.idempotencyKey] == nil }
                            && amountsByKey.values.allSatisfy { $0.count == 1 }
                        let results = await service.consume(batch: requests)
                        var firstInBatch: [String: (amount: Int64, result: UsageOutcome?)] = [:]
                        var refusedNew: [Int64] = []
                        for (request, result) in zip(requests, results) {
                            let key = request.idempotencyKey
                            let outcome = try? result.get()
                            defer { if firstInBatch[key] == nil { firstInBatch[key] = (request.amount, outcome) } }
                            // A key repeated within the batch answers as its first use there; another
                            // request with it is refused if that use was recorded (allowed), and
                            // decided on its own if it was refused (nothing recorded), as one by one.
                            if let first = firstInBatch[key],
                                first.amount == request.amount || first.result?.allowed == true
                            {
                                #expect(
                                    first.amount == request.amount
                                        ? outcome == first.result : Self.code(result) == .idempotencyKeyReused)
                                continue
                            }
                            if let previous = answered[key] {
                                #expect(
                                    previous.amount == request.amount
                                        ? outcome == previous.outcome : Self.code(result) == .idempotencyKeyReused)
                                continue
                            }
                            guard let outcome else {
                                Issue.record("a new key failed: \(result)")
                                continue
                            }
                            if exact { #expect(outcome.allowed == (used + request.amount <= 3)) }
                            if outcome.allowed {
                                used += request.amount
                                answered[key] = (request.amount, outcome)
                                #expect(outcome.used <= 3)
                                if exact { #expect(outcome.used == used) }
                            } else {
                                refusedNew.append(request.amount)
                            }
                        }
                        #expect(used <= 3)
                        for amount in refusedNew {
                            #expect(used + amount > 3, "refused \(amount) with \(used) of 3 used after the batch")
                        }
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
