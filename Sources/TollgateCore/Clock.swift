import Foundation
import Synchronization

/// Where "now" comes from. Injected everywhere so periods can be tested by moving time.
public protocol TollgateClock: Sendable {
    func now() -> Date
}

public struct SystemClock: TollgateClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; for tests and simulations.
public final class ManualClock: TollgateClock {
    private let current: Mutex<Date>

    public init(_ start: Date) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    public func set(_ date: Date) { current.withLock { $0 = date } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}
