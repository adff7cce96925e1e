import Logging
import ServiceLifecycle
import TollgateStorage

/// Folds the usage facts the commits append into the analytics rollups every few seconds, so the
/// log stays short and an analytics read has little left to fold.
struct UsageFactFolder: Service {
    let store: any AnalyticsStore
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.foldUsageFacts()
                } catch  where Task.isCancelled || error is CancellationError {
                    break // shutting down: not a failure
                } catch {
                    logger.warning("usage facts not folded yet", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
