import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TollgateCore
import TollgateStorage

/// Writes concurrent usage changes to the store together: every change submitted while one
/// transaction commits goes into the next one. A submitter is resumed only after its own change
/// is committed (or has failed), so an answer given to a client is always durable.
public final class GroupCommitter: Service {
    typealias Waiter = CheckedContinuation<[Bool], any Error>

    private let store: any UsageStore
    private let clock: any TollgateClock
    private let logger: Logger
    private let state: Mutex<GroupCommitQueue<Waiter>>
    private let failureLog = Mutex(RepeatedErrorLog(interval: .seconds(10)))
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let instruments: Instruments

    public init(
        store: any UsageStore, clock: any TollgateClock, logger: Logger, maxBatch: Int = 4096,
        instruments: Instruments = Instruments()
    ) {
        self.instruments = instruments
        self.store = store
        self.clock = clock
        self.logger = logger
        state = Mutex(GroupCommitQueue(maxBatch: maxBatch))
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Durably applies `entries` (one consume, or a batch of them) together with whatever else
    /// is pending, with one suspension; per entry, false when its record's key was stored
    /// already: then nothing of that entry was applied.
    func submit(_ entries: [UsageEntry]) async throws -> [Bool] {
        guard !entries.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { (continuation: Waiter) in
            switch state.withLock({ $0.submit(entries, waiter: continuation) }) {
            case .wakeCommitter: wake.yield()
            case .refuse: continuation.resume(throwing: MeterError.shuttingDown)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                await drain()
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        // Refuse new work, then commit what was accepted before stopping.
        state.withLock { $0.stop() }
        await drain()
    }

    /// Commits batches until the queue is empty.
    private func drain() async {
        while true {
            guard let batch = state.withLock({ $0.nextBatch() }) else { return }
            let entries = batch.flatMap(\.entries)
            let started = ContinuousClock.now
            do {
                let applied = try await store.commit(UsageBatch(entries: entries, at: clock.now()))
                instruments.groupCommit(entries.count, .now - started, false)
                for (waiter, answer) in GroupCommitQueue.answers(applied, for: batch) {
                    waiter.resume(returning: answer)
                }
            } catch {
                instruments.groupCommit(entries.count, .now - started, true)
                let description = String(reflecting: error)
                if let suppressed = failureLog.withLock({ $0.shouldLog(description, at: ContinuousClock.now) }) {
                    logger.error(
                        "group commit failed; nothing of it was counted",
                        metadata: [
                            "submissions": "\(batch.count)", "entries": "\(entries.count)", "error": "\(description)",
                            "same error since last logged": "\(suppressed)",
                        ])
                }
                for submission in batch { submission.waiter.resume(throwing: MeterError.commitFailed) }
            }
        }
    }
}

/// The group committer's queue as a value type with no I/O: submissions wait here until the
/// committer takes them, whole, about `maxBatch` entries at a time; after `stop()` new ones are
/// refused and what was accepted is still handed out.
struct GroupCommitQueue<Waiter> {
    struct Submission {
        let entries: [UsageEntry]
        let waiter: Waiter
    }

    enum SubmitAction: Equatable {
        case wakeCommitter
        case refuse
    }

    let maxBatch: Int
    private var queue: [Submission] = []
    private var stopped = false

    init(maxBatch: Int) { self.maxBatch = maxBatch }

    var pendingEntries: Int { queue.reduce(0) { $0 + $1.entries.count } }

    mutating func submit(_ entries: [UsageEntry], waiter: Waiter) -> SubmitAction {
        guard !stopped else { return .refuse }
        queue.append(Submission(entries: entries, waiter: waiter))
        return .wakeCommitter
    }

    mutating func stop() { stopped = true }

    /// Whole submissions, about `maxBatch` entries (at least one submission); nil when empty.
    mutating func nextBatch() -> [Submission]? {
        guard !queue.isEmpty else { return nil }
        var (count, entries) = (0, 0)
        while count < queue.count && entries < maxBatch {
            entries += queue[count].entries.count
            count += 1
        }
        defer { queue.removeFirst(count) }
        return Array(queue.prefix(count))
    }

    /// The batch's per-entry answers, split back per submitter.
    static func answers(_ applied: [Bool], for batch: [Submission]) -> [(Waiter, [Bool])] {
        var offset = 0
        return batch.map { submission in
            defer { offset += submission.entries.count }
            return (submission.waiter, Array(applied[offset..<offset + submission.entries.count]))
        }
    }
}

/// Logs an error once per `interval` while it repeats (a full disk fails every commit), and says
/// how many times it was left out.
struct RepeatedErrorLog {
    let interval: Duration
    private var last: (description: String, at: ContinuousClock.Instant)?
    private var suppressed = 0

    init(interval: Duration) { self.interval = interval }

    /// How many identical errors went unlogged before this one, or nil when this one should not
    /// be logged either.
    mutating func shouldLog(_ description: String, at now: ContinuousClock.Instant) -> Int? {
        if let last, last.description == description, now - last.at < interval {
            suppressed += 1
            return nil
        }
        defer { (last, suppressed) = ((description, now), 0) }
        return suppressed
    }
}

public enum MeterError: Error, Sendable, Equatable {
    /// The change could not be made durable; nothing was counted.
    case commitFailed
    case shuttingDown
}
