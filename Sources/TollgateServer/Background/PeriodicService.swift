import Foundation
import Logging
import ServiceLifecycle

/// Runs `work` every `interval` until the service group shuts down; a failure is logged and the
/// work is tried again next time (the audit trail's retention, the signing keys' reload).
struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    /// Waits an interval before the first run (the work was just done at start).
    var waitsFirst = false
    let work: @Sendable () async throws -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            if waitsFirst { try? await Task.sleep(for: interval) }
            while !Task.isCancelled {
                do {
                    try await work()
                } catch  where Task.isCancelled || error is CancellationError {
                    break // shutting down: not a failure
                } catch {
                    logger.error("\(name): \(String(reflecting: error))")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
