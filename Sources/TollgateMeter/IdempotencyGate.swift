import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Makes a mutating call answer once per idempotency key: a retry gets the first answer, a
/// concurrent duplicate waits for the first one instead of racing it, and a key reused for a
/// different request is refused.
final class IdempotencyGate: Sendable {
    final class Flight: Sendable {
        let fingerprint: String
        private let state = Mutex<
            (result: Result<UsageOutcome, any Error>?, waiters: [CheckedContinuation<UsageOutcome, any Error>])
        >((nil, []))

        init(fingerprint: String) { self.fingerprint = fingerprint }

        func wait() async throws -> UsageOutcome {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<UsageOutcome, any Error>? in
                    if state.result == nil { state.waiters.append(continuation) }
                    return state.result
                }
                if let ready { continuation.resume(with: ready) }
            }
        }

        func finish(_ result: Result<UsageOutcome, any Error>) {
            let waiters = state.withLock { state in
                state.result = result
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(with: result) }
        }
    }

    /// A key in flight, within its scope (no string joined per call).
    private struct FlightKey: Hashable {
        let scope: String
        let key: String
    }

    private let flights = Mutex<[FlightKey: Flight]>([:])
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

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
        case follower(Flight)
    }

    /// Claims `key` for this call; a key in flight with another request is refused at once.
    func claim(scope: String, key: String, fingerprint: String) throws -> Claim {
        let token = FlightKey(scope: scope, key: key)
        let claim = flights.withLock { flights -> Claim in
            if let existing = flights[token] { return .follower(existing) }
            let flight = Flight(fingerprint: fingerprint)
            flights[token] = flight
            return .leader(flight)
        }
        if case .follower(let flight) = claim, flight.fingerprint != fingerprint { throw Self.reused(key) }
        return claim
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
        flights.withLock { _ = $0.removeValue(forKey: FlightKey(scope: scope, key: key)) }
        flight.finish(result)
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
        switch try claim(scope: scope, key: key, fingerprint: fingerprint) {
        case .follower(let flight):
            return try await flight.wait()
        case .leader(let flight):
            let found: Result<Answer, any Error>
            do { found = .success(try await body()) } catch { found = .failure(error) }
            return try await finish(flight, scope: scope, key: key, found: found, lookup: lookup).get()
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

    private static func reused(_ key: String) -> DomainError {
        DomainError(
            .idempotencyKeyReused, "idempotency key \(key) was already used for a different request",
            field: "idempotencyKey")
    }
}
