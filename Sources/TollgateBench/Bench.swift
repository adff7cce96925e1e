import Foundation
import Logging
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// `tollgate bench`: every figure beside a baseline measured in the same run, as a Markdown
/// report that can be appended to BENCHMARKS.md.
public struct Bench: Sendable {
    public struct Options: Sendable {
        /// Seconds per in-process figure; wrk runs get a little more.
        public var seconds: Int = 3
        /// Small key counts and short runs: checks that everything runs, not how fast.
        public var quick = false
        public var postgresURL: String?
        public var executable: String
        public var counterMemoryCount = 1_000_000
        /// Which parts to run: meter, memory, customers, http, redis, cluster, analytics, console (all
        /// by default).
        public var parts: Set<String> = [
            "meter", "memory", "customers", "http", "redis", "cluster", "analytics", "console",
        ]
        /// The analytics figures' size (100,000 customers, 10,000,000 usage events).
        public var analyticsCustomers = 100_000
        public var analyticsEvents = 10_000_000
        /// Idempotency records a grown database holds before its meter figures (0: fresh only).
        public var heldRecords = 10_000_000
        /// Overrides the key counts of the in-process figures.
        public var keyCounts: [Int]?
        public var taskCounts: [Int] = [1, 8, 64]
        /// Concurrent callers of the batch figures (`consume(batch:)`).
        public var batchTaskCounts: [Int] = [1, 8]

        public init(executable: String) { self.executable = executable }
    }

    let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs everything and returns the report.
    public func run() async throws -> String {
        let machine = MachineDescription.current()
        var report = BenchReport(machine: machine, options: options)
        let directory = NSTemporaryDirectory() + "tollgate-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keyCounts = options.keyCounts ?? (options.quick ? [1, 1000] : [1, 1000, 100_000])
        let taskCounts = options.taskCounts
        let duration = Duration.milliseconds(options.quick ? 300 : options.seconds * 1000)

        report.disk = try DiskProbe.measure(directory: directory, duration: .milliseconds(options.quick ? 200 : 2000))
        var locations: [(String, DatabaseLocation)] = [("SQLite", .sqlite(directory: directory + "/sqlite"))]
        if let url = options.postgresURL { locations.append(("PostgreSQL", .postgres(url: url))) }
        for (name, location) in locations where options.parts.contains("meter") {
            logger.info("in-process meter on \(name)")
            let store = try await SQLStore.open(location, logger: logger)
            let rows = try await MeterBench(store: store, label: name, logger: logger).run(
                keyCounts: keyCounts, taskCounts: taskCounts, batchTaskCounts: options.batchTaskCounts,
                duration: duration
            )
            await store.shutdown()
            report.meter.append((name, rows))
        }
        // The same figures on a database that already holds what a day of retention keeps.
        let held = options.quick ? min(options.heldRecords, 100_000) : options.heldRecords
        for (name, location) in locations where options.parts.contains("meter") && held > 0 {
            let label = "\(name), \(BenchReport.grouped(held)) records held"
            logger.info("in-process meter on \(label)")
            let grown: DatabaseLocation =
                if case .sqlite = location { .sqlite(directory: directory + "/sqlite-grown") } else { location }
            let store = try await SQLStore.open(grown, logger: logger)
            let rows = try await MeterBench(store: store, label: label, logger: logger).run(
                keyCounts: keyCounts, taskCounts: taskCounts, batchTaskCounts: options.batchTaskCounts,
                duration: duration, held: held
            )
            await store.shutdown()
            report.meter.append((label, rows))
        }
        for (name, location) in locations where options.parts.contains("customers") {
            logger.info("customers created in bulk on \(name)")
            let store = try await SQLStore.open(location, logger: logger)
            let row = try await CustomerBench(store: store, logger: logger).run(count: options.quick ? 2_000 : 100_000)
            await store.shutdown()
            report.customers.append((name, row))
        }
        if options.parts.contains("memory") {
            report.bytesPerCounter = CounterMemoryProbe.bytesPerCounter(
                count: options.quick ? 100_000 : options.counterMemoryCount, resident: residentBytes)
        }

        if let url = options.postgresURL, options.parts.contains("cluster") {
            logger.info("one node against three on PostgreSQL")
            report.cluster = try await ClusterBench(url: url, logger: logger).run(
                keys: 1000, tasks: 64, duration: duration)
        }
        if !options.parts.contains("http") {
        } else if Wrk.available {
            for (name, location) in locations {
                logger.info("HTTP on \(name)")
                let serverDirectory = directory + "/server-\(name.lowercased())"
                try FileManager.default.createDirectory(
                    atPath: serverDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let server = ServerBench(
                    executable: options.executable,
                    location: location == locations[0].1 ? .sqlite(directory: serverDirectory) : location,
                    directory: serverDirectory, duration: options.quick ? 1 : options.seconds + 2, keys: 1000,
                    logger: logger
                )
                report.http.append((name, try await server.run()))
            }
        } else {
            report.notes.append("wrk is not installed: no HTTP figures (apt-get install wrk).")
        }
        if options.parts.contains("analytics") {
            let (customers, events) =
                options.quick ? (2000, 50_000) : (options.analyticsCustomers, options.analyticsEvents)
            for (name, location) in locations {
                logger.info("analytics at size on \(name)")
                let rows = try await AnalyticsBench.withScratch(
                    location == locations[0].1 ? .sqlite(directory: directory + "/analytics") : location
                ) { store in
                    try await AnalyticsBench(
                        store: store, customers: customers, events: events, repetitions: options.quick ? 3 : 15,
                        logger: logger
                    ).run()
                }
                report.analytics.append((name, rows))
            }
            report.analyticsSize = (customers, events)
        }
        if options.parts.contains("console") {
            let customers = options.quick ? 2000 : 100_000
            for (name, location) in locations {
                logger.info("console pages at size on \(name)")
                let rows = try await AnalyticsBench.withScratch(
                    location == locations[0].1 ? .sqlite(directory: directory + "/console") : location
                ) { store in
                    try await ConsoleBench(
                        store: store, customers: customers, events: options.quick ? 20_000 : 1_000_000,
                        repetitions: options.quick ? 3 : 20, logger: logger
                    ).run()
                }
                report.console.append((name, rows))
            }
            report.consoleCustomers = customers
        }
        if !options.parts.contains("redis") {
        } else if RedisBench.available {
            logger.info("Redis INCR")
            report.redis = try RedisBench(directory: directory, requests: options.quick ? 20_000 : 500_000).run()
        } else {
            report.notes.append("Redis is not installed: no INCR baseline (apt-get install redis-server).")
        }
        return report.markdown()
    }
}
