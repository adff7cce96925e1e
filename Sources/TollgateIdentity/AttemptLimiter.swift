import Foundation
import Synchronization
import TollgateCore

/// Counts failed attempts per key (an account, an IP address) in a sliding window, and refuses
/// further attempts once a key has too many. In memory, per node: a restart forgives.
public final class AttemptLimiter: Sendable {
    public struct Rule: Sendable {
        public let maximumFailures: Int
        public let window: TimeInterval

        public init(maximumFailures: Int, window: TimeInterval) {
            self.maximumFailures = maximumFailures
            self.window = window
        }
    }

    private let failures = Mutex<[String: [Date]]>([:])

    public init() {}

    /// Throws TOO_MANY_ATTEMPTS, with the wait, if `key` is over `rule` at `now`.
    public func check(_ key: String, rule: Rule, now: Date) throws(DomainError) {
        let recent = failures.withLock { failures -> [Date] in
            let kept = (failures[key] ?? []).filter { now.timeIntervalSince($0) < rule.window }
            failures[key] = kept.isEmpty ? nil : kept
            return kept
        }
        guard recent.count >= rule.maximumFailures, let oldest = recent.first else { return }
        let wait = max(1, Int((rule.window - now.timeIntervalSince(oldest)).rounded(.up)))
        throw DomainError(.tooManyAttempts, "too many attempts; try again in \(wait) seconds", retryAfterSeconds: wait)
    }

    public func recordFailure(_ key: String, at now: Date) {
        failures.withLock { $0[key, default: []].append(now) }
    }

    public func reset(_ key: String) {
        _ = failures.withLock { $0.removeValue(forKey: key) }
    }
}
