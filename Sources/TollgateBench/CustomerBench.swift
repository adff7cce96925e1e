import Foundation
import Logging
import TollgateCore
import TollgateMeter
import TollgateSQL

/// Customers created in bulk (`POST /v1/customers/batch`, `tollgate customers import`: 10,000 per
/// transaction) against the same created one per call, a commit each (`POST /v1/customers`),
/// from 8 concurrent callers, on the database the meter figures left.
struct CustomerBench {
    let store: SQLStore
    let logger: Logger

    struct Row: Sendable {
        let oneByOne: Double
        let batched: Double
        let count: Int
    }

    func run(count: Int) async throws -> Row {
        let catalog = try CatalogLoader.load(yaml: MeterBench.catalogYAML)
        let directory = CustomerDirectory(catalog: catalog, store: store, clock: SystemClock(), logger: logger)
        let tag = UUID().uuidString.prefix(8).lowercased()
        let single = max(100, count / 10)
        var started = ContinuousClock.now
        try await inParallel(workers: 8, count: single) { index in
            _ = try await directory.createCustomer(
                id: "\(tag)-one-\(index)", email: "one\(index)@example.com", name: "Customer \(index)")
        }
        let oneByOne = Double(single) / started.duration(to: .now).inSeconds
        let batch = min(count, 10_000)
        let batches = max(1, count / batch)
        started = ContinuousClock.now
        for chunk in 0..<batches {
            let rows = (0..<batch).map { index in
                CustomerDirectory.NewCustomer(
                    id: "\(tag)-bulk-\(chunk)-\(index)", email: "bulk\(chunk)-\(index)@example.com",
                    name: "Customer \(index)", planId: nil, locale: nil)
            }
            _ = try await directory.createCustomers(rows)
        }
        let batched = Double(batches * batch) / started.duration(to: .now).inSeconds
        logger.info("customers: \(Int(oneByOne))/s one by one, \(Int(batched))/s in batches of \(batch)")
        return Row(oneByOne: oneByOne, batched: batched, count: batches * batch)
    }
}
