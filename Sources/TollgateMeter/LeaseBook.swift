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
        /// The committed count at the last grant: what a refusal reports.
        var committedSeen: Int64 = 0
        /// Unused units this node stopped using (past the usable time, or abandoned) that the
        /// database has not been told of yet: they still count in its row.
        var forfeited: Int64 = 0
    }

    /// What a node tells the database when it asks for more.
    struct Report: Equatable {
        let forfeited: Int64
        let inflight: Int64
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

    /// What this node tells the database when it asks for more at `now`: the units it gave up
    /// and has not reported (the unused units of a lease past its usable time are given up now:
    /// the database may already have let it lapse), and the units in flight.
    mutating func report(_ key: CounterKey, at now: ContinuousClock.Instant) -> Report {
        guard var lease = leases[key] else { return Report(forfeited: 0, inflight: 0) }
        if lease.usableUntil <= now { lease.forfeit() }
        leases[key] = lease
        return Report(forfeited: lease.forfeited, inflight: lease.inflight)
    }

    /// Records a grant asked for with `reported`: `granted` more units, usable until
    /// `usableUntil`, with `used` committed by every node when it was granted. The forfeits
    /// reported are settled with the database; later ones wait for the next request.
    mutating func apply(
        _ key: CounterKey, granted: Int64, used: Int64, reported: Report, usableUntil: ContinuousClock.Instant
    ) {
        var lease = leases[key] ?? Lease(remaining: 0, usableUntil: usableUntil, usedSeen: 0)
        lease.forfeited = max(0, lease.forfeited - reported.forfeited)
        lease.remaining += granted
        lease.usableUntil = usableUntil
        lease.usedSeen = used + lease.inflight
        lease.committedSeen = used
        leases[key] = lease
    }

    /// Stops using what is left of the subject's leases (every lease without a subject).
    mutating func abandon(subject: String?) {
        for (key, lease) in leases where (subject == nil || key.subject == subject) && lease.remaining > 0 {
            leases[key]?.forfeit()
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

extension LeaseBook.Lease {
    /// Stops using the unused units; the database hears of them at the next request.
    fileprivate mutating func forfeit() {
        forfeited += remaining
        remaining = 0
    }
}
