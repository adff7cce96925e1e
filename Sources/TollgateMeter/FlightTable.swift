/// Which call answers each idempotency key in flight on this node: the bookkeeping of
/// `IdempotencyGate` as a value type with no I/O and no locking. The first call to claim a key
/// leads it; later calls follow the flight and, once the leader finishes, hear its result (a
/// call for the same request) or claim the key again (another request with the same key, which
/// must learn what the leader recorded before it is refused or decided).
struct FlightTable<Waiter> {
    struct Key: Hashable, Sendable {
        let scope: String
        let key: String
    }

    /// One flight of one key, as its leader and followers know it.
    struct Handle: Hashable, Sendable {
        let key: Key
        let id: UInt64
        /// The leader's request.
        let fingerprint: String
    }

    enum Claim: Equatable {
        case lead(Handle)
        case follow(Handle)
    }

    enum Join: Equatable {
        case waiting
        /// The flight ended before the follower joined it: claim the key again.
        case ended
    }

    private struct Flight {
        let id: UInt64
        let fingerprint: String
        var waiters: [Waiter] = []
    }

    private var flights: [Key: Flight] = [:]
    private var lastId: UInt64 = 0

    var inFlight: Int { flights.count }
    /// Calls waiting for a flight to end.
    var waiting: Int { flights.values.reduce(0) { $0 + $1.waiters.count } }

    mutating func claim(_ key: Key, fingerprint: String) -> Claim {
        if let flight = flights[key] {
            return .follow(Handle(key: key, id: flight.id, fingerprint: flight.fingerprint))
        }
        lastId += 1
        flights[key] = Flight(id: lastId, fingerprint: fingerprint)
        return .lead(Handle(key: key, id: lastId, fingerprint: fingerprint))
    }

    /// Adds `waiter` to the flight, unless it ended (then another may already lead the key).
    mutating func join(_ handle: Handle, _ waiter: Waiter) -> Join {
        guard flights[handle.key]?.id == handle.id else { return .ended }
        flights[handle.key]?.waiters.append(waiter)
        return .waiting
    }

    /// Ends the leader's flight; the waiters to answer.
    mutating func finish(_ handle: Handle) -> [Waiter] {
        guard let flight = flights[handle.key], flight.id == handle.id else { return [] }
        flights[handle.key] = nil
        return flight.waiters
    }
}
