import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TollgateCore
import TollgateStore

/// Writes concurrent usage changes to the store together: every change submitted while one
/// transaction commits goes into the next one. A submitter is resumed only after its own change
/// is committed (or has failed), so an answer given to a client is always durable.
public final class GroupCommitter: Service {
    struct Pending {
        let entry: UsageEntry
        let continuation: CheckedContinuation<Bool, any Error>
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
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(store: any UsageStore, clock: any TollgateClock, logger: Logger, maxBatch: Int = 4096) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.maxBatch = maxBatch
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Durably applies `deltas` (and stores `record`), together with whatever else is pending.
    /// False when `record`'s key was stored already: then nothing of it was applied.
    func submit(_ deltas: [CounterDelta], record: IdempotencyRecord?) async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.queue.append(Pending(entry: UsageEntry(deltas: deltas, record: record), continuation: continuation))
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
            let batch = state.withLock { state -> [Pending] in
                let taken = Array(state.queue.prefix(maxBatch))
                state.queue.removeFirst(taken.count)
                return taken
            }
            if batch.isEmpty { return }
            do {
                let applied = try await store.commit(UsageBatch(entries: batch.map(\.entry), at: clock.now()))
                for (pending, done) in zip(batch, applied) { pending.continuation.resume(returning: done) }
            } catch {
                logger.error("group commit of \(batch.count) changes failed", metadata: ["error": "\(String(reflecting: error))"])
                for pending in batch { pending.continuation.resume(throwing: MeterError.commitFailed) }
            }
        }
    }
}

public enum MeterError: Error, Sendable, Equatable {
    /// The change could not be made durable; nothing was counted.
    case commitFailed
    case shuttingDown
}
