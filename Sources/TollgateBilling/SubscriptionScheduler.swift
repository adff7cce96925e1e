import Logging
import ServiceLifecycle
import TollgateRuntime

/// Moves subscriptions through time once a minute: trials ending, grace periods running out.
public struct SubscriptionScheduler: Service {
    let subscriptions: SubscriptionService
    let logger: Logger
    var interval: Duration

    public init(subscriptions: SubscriptionService, logger: Logger, interval: Duration = .seconds(60)) {
        self.subscriptions = subscriptions
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        try await PeriodicService(name: "subscription scheduler", interval: interval, logger: logger) {
            _ = try await subscriptions.tick()
        }.run()
    }
}
