import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Makes a mutating call answer once per idempotency key: a retry gets the first answer, a
/// concurrent duplicate waits for the first one instead of racing it, and a key reused for a
/// different request is refused once the first request's answer is known. The bookkeeping is
/// `FlightTable`'s; this class holds it under a lock and does the waiting and the store reads.
final class IdempotencyGate: Sendable {
    typealias Flight = FlightTable<Waiter>.Handle
    typealias Waiter = CheckedContinuation<Result<UsageOutcome, any Error>?, Never>

    private let flights = Mutex(FlightTable<Waiter>())
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    var inFlight: Int { flights.withLock { $0.inFlight } }
    var waiting: Int { flights.withLock { $0.waiting } }

    /// What the guarded call found.
    enum Answer {
        /// Done and committed with its idempotency record: the answer.
        case outcome(UsageOutcome)
        /// A refusal, not recorded: the key may still have been answered "allowed" before.
        case refusal(UsageOutcome)
        /// The commit found the key stored already (a retry after a restart, or another node's).
        case alreadyAnswered
    }

    /// Who answers a key: the first caller in flight here (the leader) runs the call; the others
    /// wait for its answer.
    enum Claim {
        case leader(Flight)
        /// The flight of the same request: its answer is this call's.
        case follower(Flight)
        /// Another request holds the key: wait for its end (`wait(for:)`), then claim again.
        case otherRequest(Flight)
    }

    func claim(scope: String, key: String, fingerprint: String) -> Claim {
        switch flights.withLock({ $0.claim(FlightTable.Key(scope: scope, key: key), fingerprint: fingerprint) }) {
        case .lead(let flight): return .leader(flight)
        case .follow(let flight) where flight.fingerprint == fingerprint: return .follower(flight)
        case .follow(let flight): return .otherRequest(flight)
        }
    }

    /// The leader's answer, or nil when the flight ended before this call joined it (then the
    /// key is claimed again: the store has whatever the leader recorded).
    func wait(for flight: Flight) async -> Result<UsageOutcome, any Error>? {
        await withCheckedContinuation { (waiter: Waiter) in
            if flights.withLock({ $0.join(flight, waiter) }) == .ended { waiter.resume(returning: nil) }
        }
    }

    /// The leader's end: turns what its call found into the answer (replaying the stored one
    /// when the call could not answer by itself), releases the key and answers the followers.
    func finish(
        _ flight: Flight, scope: String, key: String, found: Result<Answer, any Error>,
        lookup: () async throws -> IdempotencyRecord?
    ) async -> Result<UsageOutcome, any Error> {
        let fingerprint = flight.fingerprint
        let result: Result<UsageOutcome, any Error>
        do {
            switch try found.get() {
            case .outcome(let outcome):
                result = .success(outcome)
            case .refusal(let refusal):
                result = .success(try await replay(lookup: lookup, fingerprint: fingerprint, key: key) ?? refusal)
            case .alreadyAnswered:
                guard let stored = try await replay(lookup: lookup, fingerprint: fingerprint, key: key) else {
                    throw DomainError(.unavailable, "idempotency key \(key) was stored and then not found; retry")
                }
                result = .success(stored)
            }
        } catch {
            result = .failure(error)
        }
        // Once committed, the store has the record: later retries find it there.
        let waiters = flights.withLock { $0.finish(flight) }
        for waiter in waiters { waiter.resume(returning: result) }
        return result
    }

    /// Runs `body` unless a call with this key is in flight here (then waits for its answer).
    /// The store is read only when `body` cannot answer by itself: a refusal, or a commit that
    /// found the key stored; then the stored answer is replayed. The insert is the check, so
    /// the hot path never reads the database.
    func run(
        scope: String, key: String, fingerprint: String,
        lookup: () async throws -> IdempotencyRecord?,
        body: () async throws -> Answer
    ) async throws -> UsageOutcome {
        while true {
            switch claim(scope: scope, key: key, fingerprint: fingerprint) {
            case .follower(let flight):
                if let answer = await wait(for: flight) { return try answer.get() }
            case .otherRequest(let flight):
                // Refused only once the other request's answer is stored; if it was refused (not
                // recorded) or failed, this request is decided on its own.
                _ = await wait(for: flight)
            case .leader(let flight):
                let found: Result<Answer, any Error>
                do { found = .success(try await body()) } catch { found = .failure(error) }
                return try await finish(flight, scope: scope, key: key, found: found, lookup: lookup).get()
            }
        }
    }

    private func replay(lookup: () async throws -> IdempotencyRecord?, fingerprint: String, key: String) async throws
        -> UsageOutcome?
    {
        guard let stored = try await lookup() else { return nil }
        guard stored.fingerprint == fingerprint else { throw Self.reused(key) }
        // Compact records name neither customer nor feature: the scope (`consume:<customer>`)
        // and the fingerprint (`<feature>|…`) do.
        if !stored.response.hasPrefix("{") {
            let customer = stored.scope.split(separator: ":", maxSplits: 1).last.map(String.init) ?? ""
            let feature = String(fingerprint.prefix { $0 != "|" })
            guard let outcome = UsageOutcome(compactRecord: stored.response, customer: customer, feature: feature)
            else {
                throw DomainError(.internalError, "stored answer for idempotency key \(key) is unreadable")
            }
            return outcome
        }
        return try Self.decoder.decode(UsageOutcome.self, from: Data(stored.response.utf8))
    }

    static func reused(_ key: String) -> DomainError {
        DomainError(
            .idempotencyKeyReused, "idempotency key \(key) was already used for a different request",
            field: "idempotencyKey")
    }
}
