import Foundation

/// When a failed delivery is tried again: exponential backoff (`base`, doubling, at most
/// `maximumDelay`) with jitter (up to ±`jitter` of the delay, so a crowd of failures does not
/// retry in step), and no more after `maximumAttempts`; or fixed `steps` (the wait after each
/// failed attempt, then none), jittered alike.
public struct RetrySchedule: Sendable, Equatable {
    public var base: TimeInterval
    public var maximumDelay: TimeInterval
    public var maximumAttempts: Int
    public var jitter: Double
    public var steps: [TimeInterval]?

    /// Standard Webhooks' schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
    /// 10 h — eight attempts over about 27 hours.
    public static let webhooks = RetrySchedule(
        steps: [5, 300, 1800, 7200, 18_000, 36_000, 36_000], jitter: 0.1)

    public init(steps: [TimeInterval], jitter: Double) {
        self.init(maximumAttempts: steps.count + 1, jitter: jitter)
        self.steps = steps
    }

    public init(
        base: TimeInterval = 30, maximumDelay: TimeInterval = 3600, maximumAttempts: Int = 8, jitter: Double = 0.2
    ) {
        self.base = base
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
        self.jitter = jitter
    }

    /// The wait after attempt `attempt` (1 for the first) failed, or nil when it was the last.
    /// `random` is uniform in 0..<1 (injected, so tests choose it).
    public func delay(afterAttempt attempt: Int, random: Double) -> TimeInterval? {
        guard attempt >= 1, attempt < maximumAttempts else { return nil }
        if let steps {
            guard attempt <= steps.count else { return nil }
            return max(0, steps[attempt - 1] * (1 + jitter * (2 * random - 1)))
        }
        let exponential = min(maximumDelay, base * pow(2, Double(min(attempt - 1, 62))))
        return max(0, exponential * (1 + jitter * (2 * random - 1)))
    }
}
