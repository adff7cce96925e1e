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
    /// One submitter's entries, answered together.
    struct Pending {
        let entries: [UsageEntry]
        let continuation: CheckedContinuation<[Bool], any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var stopped = false
    }

    private let store: any UsageStore
    private let clock: any TollgateClock
    private let logger: Logger
    private let maxBatch: Int
    private let state = Mutex(State())
    private let failureLog = Mutex(RepeatedErrorLog(interval: .seconds(10)))
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(store: any UsageStore, clock: any TollgateClock, logger: Logger, maxBatch: Int = 4096) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.maxBatch = maxBatch
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Durably applies `entries` (one consume, or a batch of them) together with whatever else
    /// is pending, with one suspension; per entry, false when its record's key was stored
    /// already: then nothing of that entry was applied.
    func submit(_ entries: [UsageEntry]) async throws -> [Bool] {
        guard !entries.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Bool], any Error>) in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.queue.append(Pending(entries: entries, continuation: continuation))
                return true
            }
            if accepted {
                wake.yield()
            } else {
                continuation.resume(throwing: MeterError.shuttingDown)
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
        state.withLock { $0.stopped = true }
        await drain()
    }

    /// Commits batches until the queue is empty.
    private func drain() async {
        while true {
            // Whole submissions, about `maxBatch` entries (at least one submission).
            let batch = state.withLock { state -> [Pending] in
                var (count, entries) = (0, 0)
                while count < state.queue.count && entries < maxBatch {
                    entries += state.queue[count].entries.count
                    count += 1
                }
                defer { state.queue.removeFirst(count) }
                return Array(state.queue.prefix(count))
            }
            if batch.isEmpty { return }
            do {
                let applied = try await store.commit(UsageBatch(entries: batch.flatMap(\.entries), at: clock.now()))
                var offset = 0
                for pending in batch {
                    pending.continuation.resume(returning: Array(applied[offset..<offset + pending.entries.count]))
                    offset += pending.entries.count
                }
            } catch {
                let entries = batch.reduce(0) { $0 + $1.entries.count }
                let description = String(reflecting: error)
                if let suppressed = failureLog.withLock({ $0.shouldLog(description, at: ContinuousClock.now) }) {
                    logger.error(
                        "group commit failed; nothing of it was counted",
                        metadata: [
                            "submissions": "\(batch.count)", "entries": "\(entries)", "error": "\(description)",
                            "same error since last logged": "\(suppressed)",
                        ])
                }
                for pending in batch { pending.continuation.resume(throwing: MeterError.commitFailed) }
            }
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
