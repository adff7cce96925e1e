import Foundation
import Logging
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// One node against three on one PostgreSQL, in one process: the same callers spread over the
/// nodes, each metering through quota leases (`serve --cluster`).
struct ClusterBench {
    let url: String
    let logger: Logger

    struct Row: Sendable {
        let nodes: Int
        let measurement: Measurement
    }

    func run(keys: Int, tasks: Int, duration: Duration) async throws -> [Row] {
        let catalog = try CatalogLoader.load(yaml: MeterBench.catalogYAML)
        var rows: [Row] = []
        for nodeCount in [1, 3] {
            var stores: [SQLStore] = []
            for _ in 0..<nodeCount { stores.append(try await SQLStore.open(.postgres(url: url), logger: logger)) }
            let customers = MeterBench(store: stores[0], label: "cluster", logger: logger)
            try await customers.prepare(keys: keys)
            let ids = (0..<keys).map { "\(customers.prefix)-\($0)" }
            let clock = SystemClock()
            let nodes = stores.map { store in
                let committer = GroupCommitter(store: store, clock: clock, logger: logger)
                let service = Meter(
                    customers: CustomerDirectory(catalog: catalog, store: store, clock: clock, logger: logger),
                    store: store, committer: committer, clock: clock,
                    leases: QuotaLeases(store: store))
                return (service, committer)
            }
            let running = nodes.map { node in Task { try await node.1.run() } }
            let tag = customers.prefix
            // Warm up: every node holds a lease on every key, as after a while in service.
            for (index, node) in nodes.enumerated() {
                try await inParallel(workers: 8, count: keys) { key in
                    _ = try await node.0.consume(
                        customerId: ids[key], featureId: "calls", amount: 1,
                        idempotencyKey: "\(tag)-warm-\(index)-\(key)")
                }
            }
            let measurement = try await measureLoop(tasks: tasks, duration: duration) { task, iteration in
                let node = nodes[task % nodes.count].0
                _ = try await node.consume(
                    customerId: ids[(iteration &* tasks &+ task) % keys], featureId: "calls", amount: 1,
                    idempotencyKey: "\(tag)-\(task)-\(iteration)")
            }
            for node in nodes { try await node.0.leases?.releaseAll() }
            running.forEach { $0.cancel() }
            for store in stores { await store.shutdown() }
            logger.info("cluster: \(nodeCount) node(s), \(tasks) callers: \(Int(measurement.perSecond))/s")
            rows.append(Row(nodes: nodeCount, measurement: measurement))
        }
        return rows
    }
}
