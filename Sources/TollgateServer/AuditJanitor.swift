import Foundation
import Logging
import ServiceLifecycle
import TollgateIdentity

/// Removes audit entries older than the retention period (`serve --audit-retention-days`) from
/// the start of the chain; the head keeps the last removed entry's hash, so what stays still
/// verifies.
struct AuditJanitor: Service {
    let trail: AuditTrail
    let retention: TimeInterval
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await trail.prune(retention: retention)
                    if removed > 0 {
                        logger.info("removed \(removed) audit entries older than \(Int(retention / 86_400)) days")
                    }
                } catch {
                    logger.error("audit janitor: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
