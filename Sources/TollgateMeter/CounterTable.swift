import Synchronization
import TollgateStorage

/// Authoritative usage counters in memory, sharded so that unrelated keys never share a lock.
/// A counter is loaded from the store on first use; after that, this node's memory is the truth
/// and the store trails it by at most one group commit.
final class CounterTable: Sendable {
    private final class Shard: Sendable {
        let counters = Mutex<[CounterKey: Int64]>([:])
    }

    private let shards: [Shard]

    init(shardCount: Int = 64) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(for key: CounterKey) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// Makes sure `key` is in memory, loading its committed value when it is not.
    func ensureLoaded(_ key: CounterKey, load: () async throws -> Int64) async throws {
        if shard(for: key).counters.withLock({ $0[key] != nil }) { return }
        let stored = try await load()
        // Another task may have loaded it meanwhile and already counted on it: keep theirs.
        shard(for: key).counters.withLock { counters in
            if counters[key] == nil { counters[key] = stored }
        }
    }

    /// Runs `body` on the counter under its shard's lock; the counter must be loaded.
    func update<R>(_ key: CounterKey, _ body: (inout Int64) -> R) -> R {
        shard(for: key).counters.withLock { counters in
            var value = counters[key] ?? 0
            let result = body(&value)
            counters[key] = value
            return result
        }
    }

    func value(_ key: CounterKey) -> Int64? {
        shard(for: key).counters.withLock { $0[key] }
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
