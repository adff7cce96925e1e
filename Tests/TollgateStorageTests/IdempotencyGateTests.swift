import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateMeter

/// The gate's bookkeeping without a task, a lock or a store.
@Suite struct FlightTableTests {
    typealias Table = FlightTable<String>
    static let key = Table.Key(scope: "consume:c1", key: "k")

    @Test func theFirstClaimLeadsAndLaterOnesFollowUntilItEnds() {
        var table = Table()
        guard case .lead(let flight) = table.claim(Self.key, fingerprint: "A") else {
            Issue.record("the first claim must lead")
            return
        }
        #expect(table.claim(Self.key, fingerprint: "A") == .follow(flight))
        // Another request sees the leader's fingerprint, to wait and claim again.
        #expect(table.claim(Self.key, fingerprint: "B") == .follow(flight))
        #expect(table.join(flight, "first") == .waiting && table.join(flight, "second") == .waiting)
        #expect(table.finish(flight) == ["first", "second"] && table.inFlight == 0)
        // A follower that joins too late is told so, and a stale leader finishes nothing.
        #expect(table.join(flight, "late") == .ended)
        guard case .lead(let next) = table.claim(Self.key, fingerprint: "B") else {
            Issue.record("after the end, the next claim leads")
            return
        }
        #expect(next.id != flight.id && next.fingerprint == "B")
        #expect(table.finish(flight) == [] && table.inFlight == 1)
        #expect(table.finish(next) == [] && table.inFlight == 0)
    }

    @Test func keysOfDifferentScopesNeverMeet() {
        var table = Table()
        let other = Table.Key(scope: "consume:c2", key: "k")
        guard case .lead = table.claim(Self.key, fingerprint: "A"), case .lead = table.claim(other, fingerprint: "A")
        else {
            Issue.record("two scopes, two leaders")
            return
        }
        #expect(table.inFlight == 2)
    }
}

/// While a request held a key, an identical retry of the eventual winner was
/// refused with IDEMPOTENCY_KEY_REUSED instead of getting the winner's answer.
@Suite struct IdempotencyRaceTests {
    @Test(arguments: TestDatabase.all)
    func copiesOfTheWinnerGetItsAnswerAndOnlyTheOtherRequestIsRefused(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Fixtures.utc(2026, 5, 14))
            try await MeterHarness.withService(store: store, catalog: try Fixtures.catalog, clock: clock) { service in
                _ = try await service.customers.createCustomer(id: "c1", email: nil, name: nil)
                _ = try await service.customers.changePlan(customerId: "c1", planId: "pro")
                for round in 0..<5 {
                    // The winner is answered first; then copies of it race requests reusing its key.
                    let winner = try await service.consume(
                        customerId: "c1", featureId: "searches", amount: 1, idempotencyKey: "race-\(round)")
                    let answers = await withTaskGroup(of: (Int64, Result<UsageOutcome, any Error>).self) { group in
                        for index in 0..<100 {
                            let amount: Int64 = index % 2 == 0 ? 1 : 2
                            group.addTask {
                                await (
                                    amount,
                                    Result(awaiting: {
                                        try await service.consume(
                                            customerId: "c1", featureId: "searches", amount: amount,
                                            idempotencyKey: "race-\(round)")
                                    })
                                )
                            }
                        }
                        return await group.reduce(into: [(Int64, Result<UsageOutcome, any Error>)]()) { $0.append($1) }
                    }
                    for (amount, result) in answers {
                        if amount == 1 {
                            #expect((try? result.get()) == winner, "round \(round): a copy of the winner")
                        } else {
                            #expect(throws: DomainError.self) { try result.get() }
                        }
                    }
                }
            }
        }
    }
}

/// The same race, made deterministic on the gate itself: a request reusing the winner's key is
/// in flight (its body held open) when a copy of the winner arrives.
@Suite struct IdempotencyGateRaceTests {
    @Test func aCopyOfTheWinnerWaitsOutAnotherRequestInFlightAndGetsTheStoredAnswer() async throws {
        let gate = IdempotencyGate()
        let winner = UsageOutcome(
            allowed: true, customer: "c1", feature: "searches", amount: 1, limit: 100, used: 1, remaining: 99,
            resetsAt: nil, reason: nil, upgradeTier: nil, overage: nil)
        let stored = IdempotencyRecord(
            scope: "consume:c1", key: "k", fingerprint: "searches|1", response: winner.storedJSON, createdAt: Date())
        let (started, startedSignal) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
        let loser = Task {
            try await gate.run(
                scope: "consume:c1", key: "k", fingerprint: "searches|2", lookup: { stored },
                body: {
                    startedSignal.yield()
                    for await _ in release { break }
                    return .alreadyAnswered
                })
        }
        for await _ in started { break }
        #expect(gate.inFlight == 1)
        let copyEnded = Atomic<Bool>(false)
        let copy = Task {
            defer { copyEnded.store(true, ordering: .relaxed) }
            return try await gate.run(
                scope: "consume:c1", key: "k", fingerprint: "searches|1", lookup: { stored },
                body: { .alreadyAnswered })
        }
        // Released only once the copy waits on the loser's flight (the old gate refused it at once).
        while gate.waiting == 0 && !copyEnded.load(ordering: .relaxed) { await Task.yield() }
        releaseSignal.yield()
        await #expect(throws: DomainError.self) { try await loser.value }
        #expect(try await copy.value == winner)
        #expect(gate.inFlight == 0)
    }
}

/// The group committer's queue without a task, a lock or a store.
@Suite struct GroupCommitQueueTests {
    static func entries(_ count: Int) -> [UsageEntry] {
        (0..<count).map { _ in UsageEntry(deltas: [], record: nil) }
    }

    @Test func batchesAreWholeSubmissionsOfAboutMaxBatchEntries() {
        var queue = GroupCommitQueue<String>(maxBatch: 4)
        #expect(queue.nextBatch() == nil)
        for (name, size) in [("a", 3), ("b", 2), ("c", 1), ("d", 9)] {
            #expect(queue.submit(Self.entries(size), waiter: name) == .wakeCommitter)
        }
        // a (3) + b (2) reach 4: b is taken whole; a submission larger than maxBatch goes alone.
        #expect(queue.nextBatch()?.map(\.waiter) == ["a", "b"])
        #expect(queue.nextBatch()?.map(\.waiter) == ["c", "d"])
        #expect(queue.nextBatch() == nil && queue.pendingEntries == 0)
    }

    @Test func answersGoBackToTheirSubmittersInOrder() throws {
        var queue = GroupCommitQueue<String>(maxBatch: 100)
        _ = queue.submit(Self.entries(2), waiter: "a")
        _ = queue.submit(Self.entries(1), waiter: "b")
        _ = queue.submit(Self.entries(3), waiter: "c")
        let next = queue.nextBatch()
        let batch = try #require(next)
        let answers = GroupCommitQueue.answers([true, false, true, false, false, true], for: batch)
        #expect(answers.map(\.0) == ["a", "b", "c"])
        #expect(answers.map(\.1) == [[true, false], [true], [false, false, true]])
    }

    @Test func afterStopNewWorkIsRefusedAndAcceptedWorkIsStillHandedOut() {
        var queue = GroupCommitQueue<String>(maxBatch: 10)
        _ = queue.submit(Self.entries(1), waiter: "accepted")
        queue.stop()
        #expect(queue.submit(Self.entries(1), waiter: "late") == .refuse)
        #expect(queue.nextBatch()?.map(\.waiter) == ["accepted"])
        #expect(queue.nextBatch() == nil)
    }
}

/// A node's quota leases, with the time passed in: expiry without waiting.
@Suite struct LeaseBookTests {
    static let key = CounterKey(subject: "customer:c1", feature: "calls", periodStartMillis: 0)
    static let other = CounterKey(subject: "customer:c2", feature: "calls", periodStartMillis: 0)
    static let none = LeaseBook.Report(forfeited: 0, inflight: 0)

    @Test func aLeaseServesUntilItsUsableTimeAndNotAfter() {
        var book = LeaseBook()
        let start = ContinuousClock.now
        #expect(book.take(Self.key, amount: 1, now: start) == nil, "nothing leased yet")
        book.apply(Self.key, granted: 10, used: 40, reported: Self.none, usableUntil: start + .seconds(9))
        #expect(book.take(Self.key, amount: 3, now: start + .seconds(1)) == 43)
        #expect(book.take(Self.key, amount: 8, now: start + .seconds(1)) == nil, "only 7 left")
        #expect(book.take(Self.key, amount: 1, now: start + .seconds(9)) == nil, "past its usable time")
        // While usable, nothing is given up; past the usable time the 7 unused units are (and
        // reported once the database hears of them), the 3 in flight are still held.
        #expect(book.report(Self.key, at: start + .seconds(1)) == LeaseBook.Report(forfeited: 0, inflight: 3))
        let report = book.report(Self.key, at: start + .seconds(10))
        #expect(report == LeaseBook.Report(forfeited: 7, inflight: 3))
        book.apply(Self.key, granted: 2, used: 45, reported: report, usableUntil: start + .seconds(19))
        #expect(book.lease(Self.key)?.forfeited == 0 && book.lease(Self.key)?.remaining == 2)
    }

    @Test func settledUnitsLeaveTheLeaseAndGivenBackOnesReturn() {
        var book = LeaseBook()
        let start = ContinuousClock.now
        book.apply(Self.key, granted: 5, used: 0, reported: Self.none, usableUntil: start + .seconds(9))
        _ = book.take(Self.key, amount: 2, now: start)
        _ = book.take(Self.key, amount: 1, now: start)
        book.settle(Self.key, amount: 2)
        book.giveBack(Self.key, amount: 1)
        #expect(
            book.lease(Self.key)
                == LeaseBook.Lease(
                    remaining: 3, inflight: 0, usableUntil: start + .seconds(9), usedSeen: 2, committedSeen: 0))
    }

    @Test func aGrantAfterTheUsableTimeStartsAFreshLease() {
        var book = LeaseBook()
        let start = ContinuousClock.now
        book.apply(Self.key, granted: 5, used: 0, reported: Self.none, usableUntil: start + .seconds(9))
        _ = book.take(Self.key, amount: 1, now: start)
        let report = book.report(Self.key, at: start + .seconds(12))
        // Forfeits that happen while the request is out wait for the next one.
        book.apply(Self.key, granted: 4, used: 20, reported: report, usableUntil: start + .seconds(21))
        // The 4 unused units lapsed; the one in flight is still counted as seen.
        #expect(book.lease(Self.key)?.remaining == 4 && book.lease(Self.key)?.usedSeen == 21)
        #expect(book.lease(Self.key)?.committedSeen == 20 && book.lease(Self.key)?.forfeited == 0)
    }

    @Test func abandonStopsOneSubjectAndEvictionForgetsLapsedIdleLeases() {
        var book = LeaseBook()
        let start = ContinuousClock.now
        book.apply(Self.key, granted: 5, used: 0, reported: Self.none, usableUntil: start + .seconds(9))
        book.apply(Self.other, granted: 5, used: 0, reported: Self.none, usableUntil: start + .seconds(9))
        book.abandon(subject: "customer:c1")
        #expect(book.report(Self.key, at: start) == LeaseBook.Report(forfeited: 5, inflight: 0))
        #expect(
            book.take(Self.key, amount: 1, now: start) == nil && book.take(Self.other, amount: 1, now: start) != nil)
        #expect(book.evictLapsed(at: start + .seconds(5)) == 0)
        // c2 has a unit in flight: kept until it settles.
        #expect(book.evictLapsed(at: start + .seconds(10)) == 1 && book.count == 1)
        book.settle(Self.other, amount: 1)
        #expect(book.evictLapsed(at: start + .seconds(10)) == 1 && book.count == 0)
    }
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
