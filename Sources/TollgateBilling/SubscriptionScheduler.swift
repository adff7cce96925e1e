import Logging
import ServiceLifecycle

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
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await subscriptions.tick()
                } catch  where Task.isCancelled || error is CancellationError {
                    break // shutting down: not a failure
                } catch {
                    logger.error("subscription scheduler: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
