import Foundation
import Logging
import ServiceLifecycle

/// Runs `work` every `interval` until the service group shuts down; a failure is logged and the
/// work is tried again next time. Every background loop of Tollgate is one (the subscription
/// scheduler, the idempotency janitor, the counter evictor, the usage fact folder, the audit
/// trail's retention, the signing keys' reload), so shutting down is quiet the same way for all:
/// cancellation is not a failure.
public struct PeriodicService: Service {
    public let name: String
    public let interval: Duration
    let logger: Logger
    /// Waits an interval before the first run (the work was just done at start).
    public var waitsFirst = false
    /// How a failure is logged (`.warning` for work that is only late, not wrong).
    public var failureLevel: Logger.Level = .error
    let work: @Sendable () async throws -> Void

    public init(
        name: String, interval: Duration, logger: Logger, waitsFirst: Bool = false,
        failureLevel: Logger.Level = .error, work: @escaping @Sendable () async throws -> Void
    ) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.waitsFirst = waitsFirst
        self.failureLevel = failureLevel
        self.work = work
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            if waitsFirst { try? await Task.sleep(for: interval) }
            while !Task.isCancelled {
                do {
                    try await work()
                } catch  where Task.isCancelled || error is CancellationError {
                    break // shutting down: not a failure
                } catch {
                    logger.log(level: failureLevel, "\(name): \(String(reflecting: error))")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
