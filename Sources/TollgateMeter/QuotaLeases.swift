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

    public let node: String
    let settings: Settings
    private let store: any LeaseStore
    private let book = Mutex(LeaseBook())
    /// The time leases are usable by; injected so tests move it instead of waiting.
    private let now: @Sendable () -> ContinuousClock.Instant
    /// One grant request per counter at a time; the others wait for it.
    private let refills = Mutex<[CounterKey: Task<LeaseGrant, any Error>]>([:])

    public init(
        store: any LeaseStore, node: String = "node-" + UUID().uuidString.prefix(8).lowercased(),
        settings: Settings = Settings(), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = now
        self.store = store
        self.node = node
        self.settings = settings
    }

    /// Takes `amount` from this node's lease if it holds enough; returns the count to report.
    func take(_ key: CounterKey, amount: Int64) -> Int64? {
        let now = now()
        return book.withLock { $0.take(key, amount: amount, now: now) }
    }

    /// The consume that took `amount` is committed: its units left the lease in the database too.
    func settle(_ key: CounterKey, amount: Int64) { book.withLock { $0.settle(key, amount: amount) } }

    /// Puts back units taken for a consume that was not committed after all.
    func giveBack(_ key: CounterKey, amount: Int64) { book.withLock { $0.giveBack(key, amount: amount) } }

    /// Asks the database for at least `amount` more units of `limit` (fewer, or none, if that
    /// is all there is left). Callers asking while a request for the counter is out wait for
    /// it and hear its grant.
    func refill(_ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, amount: Int64) async throws
        -> LeaseGrant
    {
        let task = refills.withLock { refills -> Task<LeaseGrant, any Error> in
            if let running = refills[key] { return running }
            let task = Task {
                // Leaves the table as it ends, before anyone hears its grant: a caller that finds
                // the grant taken and asks again starts a new request instead of hearing this one
                // again (and spinning on it while the caller that started it waits to run).
                defer { _ = self.refills.withLock { $0.removeValue(forKey: key) } }
                return try await self.grant(
                    key, period: period, periodEndMillis: periodEndMillis, limit: limit, amount: amount)
            }
            refills[key] = task
            return task
        }
        return try await task.value
    }

    private func grant(_ key: CounterKey, period: String, periodEndMillis: Int64?, limit: Int64, amount: Int64)
        async throws -> LeaseGrant
    {
        let asked = now()
        let settings = self.settings
        let report = book.withLock { $0.report(key, at: asked) }
        let ttl = settings.ttl.components
        let grant = try await store.acquireLease(
            key, period: period, periodEndMillis: periodEndMillis, limit: limit, node: node,
            forfeited: report.forfeited, inflight: report.inflight,
            ttlMillis: ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000
        ) { available in
            max(amount, min(settings.maximumGrant, available / settings.shareDivisor))
        }
        let margin = min(Duration.seconds(1), settings.ttl / 4)
        book.withLock {
            $0.apply(
                key, granted: grant.granted, used: grant.used, reported: report,
                usableUntil: asked + settings.ttl - margin)
        }
        return grant
    }

    /// The committed count this node last heard of (nil before its first grant).
    func committedSeen(_ key: CounterKey) -> Int64? { book.withLock { $0.lease(key)?.committedSeen } }

    /// Stops using what is left of the subject's leases (its plan changed: the limit they were
    /// granted under may be lower now). The next grant counts only what is still in flight, and
    /// the rest returns to the pool with it.
    /// Without a subject, every lease (changes may have been missed).
    func abandon(subject: String?) { book.withLock { $0.abandon(subject: subject) } }

    /// Forgets leases that lapsed with nothing in flight (the database lets them lapse too); how
    /// many. Keeps memory to the counters this node used lately.
    @discardableResult
    func evictLapsed() -> Int {
        let now = now()
        return book.withLock { $0.evictLapsed(at: now) }
    }

    /// Leases this node holds now.
    public var count: Int { book.withLock { $0.count } }

    /// Gives every lease back (at shutdown), so other nodes can use the units at once.
    public func releaseAll() async throws {
        book.withLock { $0.removeAll() }
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
