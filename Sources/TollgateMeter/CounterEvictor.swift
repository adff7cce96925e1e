import Logging
import ServiceLifecycle
import TollgateRuntime

/// Drops counters of windows that have ended (and lapsed leases) every few minutes, so the
/// meter's memory follows the customers active in the current windows, not every window ever.
public struct CounterEvictor: Service {
    let service: Meter
    let logger: Logger
    var interval: Duration

    public init(service: Meter, logger: Logger, interval: Duration = .seconds(300)) {
        self.service = service
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        try await PeriodicService(name: "counter evictor", interval: interval, logger: logger) {
            let evicted = service.evictPastWindows()
            if evicted > 0 { logger.debug("evicted \(evicted) counters of ended windows") }
        }.run()
    }
}
