import Foundation
import TestSupport
import Testing

/// `tollgate bench` runs end to end and reports every figure beside its baseline. Its numbers
/// are not checked here (no timed assertion in a test): only that it measures and reports.
@Suite struct BenchTests {
    @Test func aQuickBenchReportsEachFigureWithItsBaselineAndRecordsIt() async throws {
        let directory = NSTemporaryDirectory() + "tollgate-bench-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = directory + "/BENCHMARKS.md"
        let result = try await TollgateBinary.run(["bench", "--quick", "--record", record])
        #expect(result.status == 0, "\(result.stderr)")
        let report = result.stdout
        #expect(report.contains("| SQLite | 1000 | 64 |"), "the meter against SQL UPDATE, 1,000 keys, 64 callers")
        #expect(report.contains("resident bytes per counter"))
        #expect(report.contains("| SQLite | 2,000 |"), "customers in bulk against one per call")
        // The analytics answers at size beside a plain aggregation of the raw rows, and the same answer.
        for answer in ["GET /v1/analytics/revenue, 24 months (EUR)", "GET /v1/analytics/usage, one month"] {
            let line = report.split(separator: "\n").first { $0.hasPrefix("| SQLite | \(answer) |") }
            #expect(line?.hasSuffix("| yes |") == true, "\(answer): \(line ?? "missing")")
        }
        // The test command installs wrk and Redis; in CI their absence is a failure, not a skip.
        let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
        let wrkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk")
        let redisInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-benchmark")
        #expect(wrkInstalled || !inCI, "wrk is missing: scripts/test.sh installs it")
        #expect(redisInstalled || !inCI, "redis-benchmark is missing: scripts/test.sh installs it")
        if wrkInstalled {
            #expect(report.contains("| SQLite | POST /v1/consume |") && report.contains("| SQLite | GET /health |"))
            #expect(report.contains("events/s**"))
            // Every request of the load succeeded: a figure made of errors would be meaningless.
            for line in report.split(separator: "\n")
            where line.hasPrefix("| SQLite | ") && line.contains("/v1/") && !line.contains("/v1/analytics") {
                let columns = line.split(separator: "|", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                #expect(columns.count > 6 && columns[6] == "0", "failures: \(line)")
            }
        }
        if redisInstalled {
            #expect(report.contains("Redis INCR, no persistence"))
        }
        #expect(
            try String(contentsOfFile: record, encoding: .utf8).contains(
                report.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
