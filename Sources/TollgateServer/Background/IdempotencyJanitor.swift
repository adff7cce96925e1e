import Foundation
import Logging
import ServiceLifecycle
import TollgateCore
import TollgateRuntime
import TollgateStorage

/// Deletes idempotency records older than the retention period, in small batches, so that the
/// table and its index stop growing with every consume ever made. A request retried after its
/// key was purged counts as a new one. Stripe keeps keys 24 hours, and so does Tollgate by
/// default: each record costs the database about 110–150 bytes, some 13 GB a day at a sustained
/// 1,000 consumes/s.
struct IdempotencyJanitor: Service {
    let store: any UsageStore
    let clock: any TollgateClock
    let retention: TimeInterval
    let logger: Logger
    var interval: Duration = .seconds(600)
    /// Rows per transaction: short enough not to hold the meter's commits back for long.
    var batchSize = 1000

    /// Purges everything past the retention now; how many records it deleted.
    @discardableResult
    func purge() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-retention)
        var total = 0
        while true {
            let deleted = try await store.purgeIdempotencyRecords(createdBefore: cutoff, limit: batchSize)
            total += deleted
            if deleted < batchSize || Task.isCancelled { return total }
            await Task.yield()
        }
    }

    func run() async throws {
        try await PeriodicService(name: "idempotency janitor", interval: interval, logger: logger) {
            let deleted = try await purge()
            if deleted > 0 {
                logger.info("purged \(deleted) idempotency records older than \(Int(retention / 86_400)) days")
            }
        }.run()
    }
}
