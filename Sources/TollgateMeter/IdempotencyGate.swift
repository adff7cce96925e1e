import Foundation
import Synchronization
import TollgateCore
import TollgateStore

/// Makes a mutating call answer once per idempotency key: a retry gets the first answer, a
/// concurrent duplicate waits for the first one instead of racing it, and a key reused for a
/// different request is refused.
final class IdempotencyGate: Sendable {
    private final class Flight: Sendable {
        let fingerprint: String
        private let state = Mutex<(result: Result<UsageOutcome, any Error>?, waiters: [CheckedContinuation<UsageOutcome, any Error>])>((nil, []))

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

    private let flights = Mutex<[String: Flight]>([:])
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Runs `body` unless this key was answered before (then replays that answer).
    /// `body` returns the outcome and commits it together with the record it is given.
    func run(
        scope: String, key: String, fingerprint: String,
        lookup: () async throws -> IdempotencyRecord?,
        body: () async throws -> UsageOutcome
    ) async throws -> UsageOutcome {
        let token = scope + "\u{1F}" + key
        let (flight, isLeader) = flights.withLock { flights -> (Flight, Bool) in
            if let existing = flights[token] { return (existing, false) }
            let flight = Flight(fingerprint: fingerprint)
            flights[token] = flight
            return (flight, true)
        }
        guard isLeader else {
            guard flight.fingerprint == fingerprint else { throw Self.reused(key) }
            return try await flight.wait()
        }
        let result: Result<UsageOutcome, any Error>
        do {
            if let stored = try await lookup() {
                guard stored.fingerprint == fingerprint else { throw Self.reused(key) }
                result = .success(try Self.decoder.decode(UsageOutcome.self, from: Data(stored.response.utf8)))
            } else {
                result = .success(try await body())
            }
        } catch {
            result = .failure(error)
        }
        // Once committed, the store has the record: later retries find it there.
        flights.withLock { _ = $0.removeValue(forKey: token) }
        flight.finish(result)
        return try result.get()
    }

    private static func reused(_ key: String) -> DomainError {
        DomainError(.idempotencyKeyReused, "idempotency key \(key) was already used for a different request", field: "idempotencyKey")
    }
}
