import ArgumentParser
import Foundation
import Logging
import TollgateBench
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateServer
import TollgateStorage

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            """
            Measure the meter and the server against baselines run at the same time; print Markdown (and append \
            it with --record).
            """
    )

    @Option(help: "Seconds per in-process figure.") var seconds = 3
    @Flag(help: "Short runs over few keys: checks that the bench works, not how fast.") var quick = false
    @Option(help: "Also measure on this PostgreSQL (postgres://user:pass@host:port/db).") var postgres: String?
    @Option(help: "Append the report to this file (e.g. BENCHMARKS.md).") var record: String?
    @Option(
        help: ArgumentHelp(
            "Only these parts (comma-separated): meter, memory, customers, http, redis, cluster (needs --postgres), "
                + "analytics, console."))
    var only: String?
    @Option(help: "Idempotency records a grown database holds before its meter figures (0: the fresh one only).")
    var heldRecords = 10_000_000
    @Option(help: "Customers of the analytics figures.") var analyticsCustomers = 100_000
    @Option(help: "Usage events of the analytics figures.") var analyticsEvents = 10_000_000
    @Option(help: "Key counts of the in-process figures (comma-separated).") var keys: String?
    @Option(help: "Concurrent callers of the in-process figures (comma-separated; 0 for none).") var callers: String?
    @Option(help: "Concurrent callers of the batch figures, 1,000 consumes per call (comma-separated; 0 for none).")
    var batchCallers: String?

    func run() async throws {
        guard seconds >= 1 else { throw ValidationError("--seconds must be 1 or more") }
        var logger = Logger(label: "tollgate.bench")
        logger.logLevel = .info
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var options = Bench.Options(executable: executable)
        options.seconds = seconds
        options.quick = quick
        options.postgresURL = postgres
        options.analyticsCustomers = analyticsCustomers
        options.analyticsEvents = analyticsEvents
        guard heldRecords >= 0 else { throw ValidationError("--held-records must be 0 or more") }
        options.heldRecords = heldRecords
        if let only { options.parts = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        if let keys { options.keyCounts = keys.split(separator: ",").compactMap { Int($0) } }
        if let callers { options.taskCounts = callers.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }
        if let batchCallers {
            options.batchTaskCounts = batchCallers.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        }
        let report = try await Bench(options: options, logger: logger).run()
        print(report)
        if let record {
            let existing =
                (try? String(contentsOfFile: record, encoding: .utf8))
                ?? "# Benchmarks\n\nAppended by `tollgate bench --record BENCHMARKS.md`.\n\n"
            try (existing + report).write(toFile: record, atomically: true, encoding: .utf8)
        }
    }
}
