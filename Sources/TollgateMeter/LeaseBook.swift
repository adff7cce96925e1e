import TollgateStorage

/// What this node holds of each counter's quota lease, as a value type with no I/O: every
/// operation is told the time, so expiry is tested without waiting (`QuotaLeases` keeps the
/// book under a lock, asks the database for grants and reads its injected clock).
struct LeaseBook {
    struct Lease: Equatable {
        var remaining: Int64
        /// Taken for consumes not committed yet: still in the database's count of the lease.
        var inflight: Int64 = 0
        /// Stop using the lease before the database lets it lapse (the grant's round trip and
        /// the commit of the last consume fit in the margin).
        var usableUntil: ContinuousClock.Instant
        /// The committed count when granted, plus what this node consumed since: what a caller is told.
        var usedSeen: Int64
    }

    private var leases: [CounterKey: Lease] = [:]

    var count: Int { leases.count }

    func lease(_ key: CounterKey) -> Lease? { leases[key] }

    /// Takes `amount` if the lease is usable at `now` and holds enough; the count to report.
    mutating func take(_ key: CounterKey, amount: Int64, now: ContinuousClock.Instant) -> Int64? {
        guard var lease = leases[key], lease.usableUntil > now, lease.remaining >= amount else { return nil }
        lease.remaining -= amount
        lease.inflight += amount
        lease.usedSeen += amount
        leases[key] = lease
        return lease.usedSeen
    }

    /// The consume that took `amount` is committed: its units left the lease in the database too.
    mutating func settle(_ key: CounterKey, amount: Int64) {
        guard var lease = leases[key] else { return }
        lease.inflight = max(0, lease.inflight - amount)
        leases[key] = lease
    }

    /// Puts back units taken for a consume that was not committed after all.
    mutating func giveBack(_ key: CounterKey, amount: Int64) {
        guard var lease = leases[key] else { return }
        lease.remaining += amount
        lease.inflight = max(0, lease.inflight - amount)
        lease.usedSeen -= amount
        leases[key] = lease
    }

    /// What this node holds in the database's eyes when it asks for more at `now`: the unused
    /// units of a lease still usable (past its usable time they are given up: the database may
    /// already have let it lapse) and everything in flight.
    func holding(_ key: CounterKey, at now: ContinuousClock.Instant) -> Int64 {
        guard let lease = leases[key] else { return 0 }
        return (lease.usableUntil > now ? lease.remaining : 0) + lease.inflight
    }

    /// Records a grant asked for at `askedAt`: `granted` more units, usable until `usableUntil`,
    /// with `used` committed by every node when it was granted.
    mutating func apply(
        _ key: CounterKey, granted: Int64, used: Int64, askedAt: ContinuousClock.Instant,
        usableUntil: ContinuousClock.Instant
    ) {
        var lease = leases[key] ?? Lease(remaining: 0, usableUntil: askedAt, usedSeen: 0)
        if lease.usableUntil <= askedAt { lease.remaining = 0 }
        lease.remaining += granted
        lease.usableUntil = usableUntil
        lease.usedSeen = used + lease.inflight
        leases[key] = lease
    }

    /// Stops using what is left of the subject's leases (every lease without a subject).
    mutating func abandon(subject: String?) {
        for (key, lease) in leases where (subject == nil || key.subject == subject) && lease.remaining > 0 {
            leases[key]?.remaining = 0
        }
    }

    /// Forgets leases that lapsed at `now` with nothing in flight; how many.
    mutating func evictLapsed(at now: ContinuousClock.Instant) -> Int {
        let before = leases.count
        leases = leases.filter { _, lease in lease.usableUntil > now || lease.inflight > 0 }
        return before - leases.count
    }

    mutating func removeAll() { leases.removeAll() }
}
