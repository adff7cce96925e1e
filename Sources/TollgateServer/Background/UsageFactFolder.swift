import Logging
import ServiceLifecycle
import TollgateRuntime
import TollgateStorage

/// Folds the usage facts the commits append into the analytics rollups every few seconds, so the
/// log stays short and an analytics read has little left to fold.
struct UsageFactFolder: Service {
    let store: any AnalyticsStore
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        // A failed fold is only late: the next one folds what this one left.
        try await PeriodicService(
            name: "usage facts not folded yet", interval: interval, logger: logger, failureLevel: .warning
        ) { try await store.foldUsageFacts() }.run()
    }
}
