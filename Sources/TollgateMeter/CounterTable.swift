import Foundation
import Synchronization
import TollgateStorage

/// Authoritative usage counters in memory, sharded so that unrelated keys never share a lock.
/// A counter is loaded from the store on first use; after that, this node's memory is the truth
/// and the store trails it by at most one group commit.
final class CounterTable: Sendable {
    private struct Entry {
        var value: Int64
        /// When the counter's window ends (Unix milliseconds); `Int64.max` for lifetime counters
        /// (not an optional: 16 bytes an entry instead of 24, for every live counter).
        let windowEndMillis: Int64
    }

    private final class Shard: Sendable {
        let counters = Mutex<[CounterKey: Entry]>([:])
    }

    private let shards: [Shard]

    init(shardCount: Int = 64) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(for key: CounterKey) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// Makes sure `key` is in memory, loading its committed value when it is not. `windowEnd` is
    /// when the counter's window ends (nil: never), after which `evict(endedBefore:)` drops it.
    func ensureLoaded(_ key: CounterKey, windowEnd: Date?, load: () async throws -> Int64) async throws {
        if shard(for: key).counters.withLock({ $0[key] != nil }) { return }
        let stored = try await load()
        // Another task may have loaded it meanwhile and already counted on it: keep theirs.
        shard(for: key).counters.withLock { counters in
            if counters[key] == nil {
                counters[key] = Entry(value: stored, windowEndMillis: windowEnd.map(Millis.from) ?? .max)
            }
        }
    }

    /// Runs `body` on the counter under its shard's lock; the counter must be loaded.
    func update<R>(_ key: CounterKey, _ body: (inout Int64) -> R) -> R {
        shard(for: key).counters.withLock { counters in
            var entry = counters[key] ?? Entry(value: 0, windowEndMillis: .max)
            let result = body(&entry.value)
            counters[key] = entry
            return result
        }
    }

    func value(_ key: CounterKey) -> Int64? {
        shard(for: key).counters.withLock { $0[key]?.value }
    }

    /// Drops the counters whose window ended before `cutoff`; how many. Nothing counts on them any
    /// more (consumes land in the current window), and the store holds their committed value, so
    /// a late reader reloads it. The cutoff should trail the clock by more than a commit takes.
    @discardableResult
    func evict(endedBefore cutoff: Date) -> Int {
        let cutoffMillis = Millis.from(cutoff)
        return shards.reduce(0) { evicted, shard in
            evicted
                + shard.counters.withLock { counters in
                    let before = counters.count
                    counters = counters.filter { _, entry in entry.windowEndMillis >= cutoffMillis }
                    return before - counters.count
                }
        }
    }

    var count: Int { shards.reduce(0) { $0 + $1.counters.withLock { $0.count } } }
}

/// For `tollgate bench`: what live counters cost in memory, measured on a table filled the way
/// the meter fills it (one counter per customer, feature and period).
public enum CounterMemoryProbe {
    /// Resident bytes added per counter when `count` counters are live, given a way to read the
    /// process's resident memory.
    public static func bytesPerCounter(count: Int, resident: () -> Int) -> Double {
        let before = resident()
        let table = CounterTable()
        for index in 0..<count {
            let key = CounterKey(
                subject: "customer:cus_\(index)", feature: "api_calls", periodStartMillis: 1_790_000_000_000)
            table.update(key) { $0 = Int64(index) }
        }
        let after = resident()
        return withExtendedLifetime(table) { Double(after - before) / Double(max(1, count)) }
    }
}
