import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TollgateCore
import TollgateStorage

/// This node's share of finite quotas when several nodes meter the same counters on one
/// PostgreSQL. A node consumes from memory within units leased to it; when they run out it asks
/// the database for more (a share of what is left, smaller as it runs out). Every consume is
/// still committed before it is answered, and shrinks the lease in the same transaction, so a
/// node killed mid-run strands at most its unused lease until the lease expires.
public final class QuotaLeases: Sendable {
    public struct Settings: Sendable {
        /// How long a lease lasts without renewal (the longest units can stay stranded).
        public var ttl: Duration = .seconds(10)
        /// The most units one grant hands out.
        public var maximumGrant: Int64 = 1000
        /// The share of what is left that one grant takes (1/8: grants shrink as the quota runs out).
        public var shareDivisor: Int64 = 8

        public init() {}
    }

    struct Lease {
        var remaining: Int64
        /// Taken for consumes not committed yet: still in the database's count of the lease.
        var inflight: Int64 = 0
        /// Stop using the lease before the database lets it lapse (the grant's round trip and
        /// the commit of the last consume fit in the margin).
        var usableUntil: ContinuousClock.Instant
        /// The committed count when granted, plus what this node consumed since: what a caller is told.
        var usedSeen: Int64
    }

    public let node: String
    let settings: Settings
    private let store: any LeaseStore
    private let leases = Mutex<[CounterKey: Lease]>([:])
    /// One grant request per counter at a time; the others wait for it.
    private let refills = Mutex<[CounterKey: Task<Void, any Error>]>([:])

    public init(
        store: any LeaseStore, node: String = "node-" + UUID().uuidString.prefix(8).lowercased(),
        settings: Settings = Settings()
    ) {
        self.store = store
        self.node = node
        self.settings = settings
    }

    /// Takes `amount` from this node's lease if it holds enough; returns the count to report.
    func take(_ key: CounterKey, amount: Int64) -> Int64? {
        let now = ContinuousClock.now
        return leases.withLock { leases -> Int64? in
            guard var lease = leases[key], lease.usableUntil > now, lease.remaining >= amount else { return nil }
            lease.remaining -= amount
            lease.inflight += amount
            lease.usedSeen += amount
            leases[key] = lease
            return lease.usedSeen
        }
    }

    /// The consume that took `amount` is committed: its units left the lease in the database too.
    func settle(_ key: CounterKey, amount: Int64) {
        leases.withLock { leases in
            guard var lease = leases[key] else { return }
            lease.inflight = max(0, lease.inflight - amount)
            leases[key] = lease
        }
    }

    /// Puts back units taken for a consume that was not committed after all.
    func giveBack(_ key: CounterKey, amount: Int64) {
        leases.withLock { leases in
            guard var lease = leases[key] else { return }
            lease.remaining += amount
            lease.inflight = max(0, lease.inflight - amount)
            lease.usedSeen -= amount
            leases[key] = lease
        }
    }

    /// What this node last knew of the committed count (nil before its first grant).
    func usedSeen(_ key: CounterKey) -> Int64? {
        leases.withLock { $0[key]?.usedSeen }
    }

    /// Asks the database for at least `amount` more units of `limit` (fewer, or none, if that
    /// is all there is left).
    func refill(_ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, amount: Int64) async throws {
        let (task, isNew) = refills.withLock { refills -> (Task<Void, any Error>, Bool) in
            if let running = refills[key] { return (running, false) }
            let task = Task {
                try await self.grant(
                    key, period: period, periodEndMillis: periodEndMillis, limit: limit, amount: amount)
            }
            refills[key] = task
            return (task, true)
        }
        defer { if isNew { _ = refills.withLock { $0.removeValue(forKey: key) } } }
        try await task.value
    }

    private func grant(_ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, amount: Int64)
        async throws
    {
        let asked = ContinuousClock.now
        let settings = self.settings
        // Units of a lease past its usable time are given up (the database may already have let
        // it lapse); consumes taken from it before then are committed within the margin.
        let holding = leases.withLock { leases -> Int64 in
            guard let lease = leases[key] else { return 0 }
            return (lease.usableUntil > asked ? lease.remaining : 0) + lease.inflight
        }
        let ttl = settings.ttl.components
        let grant = try await store.acquireLease(
            key, period: period, periodEndMillis: periodEndMillis, limit: limit, node: node, holding: holding,
            ttlMillis: ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000
        ) { available in
            max(amount, min(settings.maximumGrant, available / settings.shareDivisor))
        }
        let margin = min(Duration.seconds(1), settings.ttl / 4)
        leases.withLock { leases in
            var lease = leases[key] ?? Lease(remaining: 0, usableUntil: asked, usedSeen: 0)
            if lease.usableUntil <= asked { lease.remaining = 0 }
            lease.remaining += grant.granted
            lease.usableUntil = asked + settings.ttl - margin
            lease.usedSeen = grant.used + lease.inflight
            leases[key] = lease
        }
    }

    /// Stops using what is left of the subject's leases (its plan changed: the limit they were
    /// granted under may be lower now). The next grant counts only what is still in flight, and
    /// the rest returns to the pool with it.
    /// Without a subject, every lease (changes may have been missed).
    func abandon(subject: String?) {
        leases.withLock { leases in
            for (key, lease) in leases where (subject == nil || key.subject == subject) && lease.remaining > 0 {
                leases[key]?.remaining = 0
            }
        }
    }

    /// Forgets leases that lapsed with nothing in flight (the database lets them lapse too); how
    /// many. Keeps memory to the counters this node used lately.
    @discardableResult
    func evictLapsed() -> Int {
        let now = ContinuousClock.now
        return leases.withLock { leases in
            let before = leases.count
            leases = leases.filter { _, lease in lease.usableUntil > now || lease.inflight > 0 }
            return before - leases.count
        }
    }

    var count: Int { leases.withLock { $0.count } }

    /// Gives every lease back (at shutdown), so other nodes can use the units at once.
    public func releaseAll() async throws {
        leases.withLock { $0.removeAll() }
        try await store.releaseLeases(node: node)
    }
}

/// Gives this node's leases back when the server stops, so other nodes need not wait for them
/// to expire.
public struct LeaseReleaser: Service {
    let leases: QuotaLeases
    let logger: Logger

    public init(leases: QuotaLeases, logger: Logger) {
        self.leases = leases
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        do {
            try await leases.releaseAll()
        } catch {
            logger.warning(
                "could not give leases back; they lapse at their expiry",
                metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
