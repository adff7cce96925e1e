import Foundation

/// The bench's figures as Markdown: a table per section, each figure beside its baseline and
/// the ratio, then the issue's targets marked as met or not.
struct BenchReport {
    let machine: MachineDescription
    let options: Bench.Options
    var meter: [(String, [MeterBench.Row])] = []
    var customers: [(String, CustomerBench.Row)] = []
    var bytesPerCounter: Double?
    var http: [(String, ServerBench.Results)] = []
    var redis: RedisBench.Results?
    var cluster: [ClusterBench.Row] = []
    var notes: [String] = []
    var disk: DiskProbe.Result?
    var analytics: [(String, [AnalyticsBench.Row])] = []
    var analyticsSize: (customers: Int, events: Int)?
    var console: [(String, [ConsoleBench.Row])] = []
    var consoleCustomers: Int?

    func markdown() -> String {
        let date = ISO8601DateFormatter().string(from: Date())
        var out = "## Run of \(date)\n\n"
        out +=
            """
            Machine: \(machine.summary). \
            \(options.quick ? "**Quick run** (short, small: checks that the bench runs, not how fast). " : "")
            """
        out += "\(options.seconds) s per in-process figure. Every consume is durable before it is answered "
        out += "(SQLite: WAL, synchronous=FULL; PostgreSQL: synchronous_commit as configured).\n\n"
        if let disk {
            out +=
                "Disk: a 4 KiB append and `fdatasync`, one after another: \(format(disk.syncsPerSecond))/s, "
                + "p50 \(format(disk.p50)) µs, "
            out += "p99 \(format(disk.p99)) µs. Every durable answer waits for at least one.\n\n"
        }
        out += meterSection()
        if let bytes = bytesPerCounter {
            out +=
                """
                ### Memory\n\nLive counters in the meter's table: \(format(bytes)) resident bytes per counter \
                (target ≤ 200).\n\n
                """
        }
        out += customerSection()
        out += clusterSection()
        out += httpSection()
        out += redisSection()
        out += analyticsSection()
        out += consoleSection()
        out += targetsSection()
        for note in notes { out += "- \(note)\n" }
        return out + "\n"
    }

    private func customerSection() -> String {
        guard !customers.isEmpty else { return "" }
        var out = "### Customers created in bulk, against one per call (a commit each, 8 callers)\n\n"
        out += "| database | customers | one per call /s | 10,000 per call /s | ratio |\n|---|---:|---:|---:|---:|\n"
        for (name, row) in customers {
            out += "| \(name) | \(format(Double(row.count))) | \(format(row.oneByOne)) | \(format(row.batched)) | "
            out += String(format: "%.1f×", row.batched / max(row.oneByOne, 1)) + " |\n"
        }
        return out + "\n"
    }

    private func meterSection() -> String {
        guard !meter.isEmpty else { return "" }
        var out = "### In-process: the meter's `consume` against one conditional SQL UPDATE per consume\n\n"
        out +=
            "Rows with \(MeterBench.batchSize) consumes per call use `consume(batch:)`; their baseline runs the same "
        out +=
            "UPDATEs in one transaction per call, and latencies are "
            + "per call. *Written/consume*: bytes this process wrote "
        out += "(SQLite's WAL and checkpoints) per consume; on PostgreSQL the server process writes.\n\n"
        out +=
            """
            | database | keys | callers | consumes per call | meter consumes/s | p50 µs | p99 µs | \
            written/consume | SQL UPDATE/s | p99 µs | ratio |\n
            """
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for (database, rows) in meter {
            for row in rows {
                let written =
                    database.hasPrefix("SQLite") ? row.meter.bytesPerOperation.map { "\(format($0)) B" } ?? "–" : "–"
                out +=
                    "| \(database) | \(row.keys) | \(row.tasks) | \(row.batch) | \(format(row.meter.perSecond)) "
                    + "| \(format(row.meter.p50)) | \(format(row.meter.p99)) | \(written) "
                out +=
                    """
                    | \(format(row.baseline.perSecond)) | \(format(row.baseline.p99)) | \
                    \(ratio(row.meter.perSecond, row.baseline.perSecond)) |\n
                    """
            }
        }
        return out + "\n"
    }

    private func clusterSection() -> String {
        guard let one = cluster.first(where: { $0.nodes == 1 }) else { return "" }
        var out = "### Several nodes on one PostgreSQL (quota leases), 1,000 keys, 64 callers spread over the nodes\n\n"
        out += "| nodes | consumes/s | p50 µs | p99 µs | vs 1 node |\n|---:|---:|---:|---:|---:|\n"
        for row in cluster {
            out +=
                """
                | \(row.nodes) | \(format(row.measurement.perSecond)) | \(format(row.measurement.p50)) | \
                \(format(row.measurement.p99)) | \(ratio(row.measurement.perSecond, one.measurement.perSecond)) \
                |\n
                """
        }
        return out
            + """
            \nAll nodes run in this one process (each with its own connection pool and group committer), so they \
            share its 2 cores: the figure shows what leasing costs, not what more machines add.\n\n
            """
    }

    private func httpSection() -> String {
        guard !http.isEmpty else { return "" }
        var out = "### HTTP on loopback (wrk, 2 threads, 64 connections; server and wrk share the machine)\n\n"
        out +=
            """
            | database | route | requests/s | p50 µs | p99 µs | failures | vs GET /health \
            |\n|---|---|---:|---:|---:|---:|---:|\n
            """
        for (database, results) in http {
            let health = results.health?.requestsPerSecond
            for (route, result) in [
                ("GET /health", results.health), ("POST /v1/consume", results.consume),
                ("POST /v1/check", results.check),
                ("POST /v1/check, the key rate-limited (token bucket)", results.checkRateLimited),
            ] {
                guard let result else { continue }
                out +=
                    "| \(database) | \(route) | \(format(result.requestsPerSecond)) "
                    + "| \(format(result.p50)) | \(format(result.p99)) | \(result.failures) "
                out += "| \(health.map { ratio(result.requestsPerSecond, $0) } ?? "–") |\n"
            }
            if let (connections, half) = results.consumeAtHalf {
                out +=
                    """
                    | \(database) | POST /v1/consume, \(connections) connection(s), closed loop (≈ half the peak) \
                    | \(format(half.requestsPerSecond)) | \(format(half.p50)) | \(format(half.p99)) | \
                    \(half.failures) | |\n
                    """
            }
            if let (delay, paced) = results.consumePaced {
                out +=
                    """
                    | \(database) | POST /v1/consume, 64 connections paced \(delay) ms apart (≈ half the peak) | \
                    \(format(paced.requestsPerSecond)) | \(format(paced.p50)) | \(format(paced.p99)) | \
                    \(paced.failures) | |\n
                    """
            }
            if let events = results.events {
                out +=
                    """
                    | \(database) | POST /v1/events (1,000 events each, 4 connections) | \
                    \(format(events.requestsPerSecond)) = **\(format(events.requestsPerSecond * 1000)) events/s** \
                    | \(format(events.p50)) | \(format(events.p99)) | \(events.failures) | |\n
                    """
            }
        }
        return out + "\n"
    }

    private func redisSection() -> String {
        guard let redis else { return "" }
        let ours = meter.first?.1.first { $0.keys == 1000 && $0.tasks == 64 && $0.batch == 1 }?.meter.perSecond
        var out =
            """
            ### The seed's design: Redis INCR (redis-benchmark, 64 connections)\n\n| what | operations/s | \
            Tollgate's meter (1,000 keys, 64 callers, SQLite) / this |\n|---|---:|---:|\n
            """
        out +=
            """
            | Redis INCR, no persistence (the seed's fire-and-forget counter) | \(format(redis.inMemory)) | \
            \(ours.map { ratio($0, redis.inMemory) } ?? "–") |\n
            """
        out +=
            """
            | Redis INCR, appendfsync always (durable like Tollgate) | \(format(redis.fsyncAlways)) | \
            \(ours.map { ratio($0, redis.fsyncAlways) } ?? "–") |\n
            """
        return out + "\n"
    }

    private func analyticsSection() -> String {
        guard let size = analyticsSize, !analytics.isEmpty else { return "" }
        var out = "### Analytics at size: from the rollups against a plain aggregation of the raw rows\n\n"
        out +=
            """
            \(format(Double(size.customers))) customers, two years of subscription history, \
            \(format(Double(size.events))) usage events. The answer's own computation, without HTTP; milliseconds \
            per answer (median and slowest); *same* says both gave the same answer.\n\n
            """
        out += "| database | answer | raw rows | from the rollups | slowest | plain aggregation | slowest | "
        out += "plain ÷ rollups | same |\n"
        out += "|---|---|---:|---:|---:|---:|---:|---:|---|\n"
        for (database, rows) in analytics {
            for row in rows {
                out +=
                    """
                    | \(database) | \(row.answer) | \(format(Double(row.rawRows))) | \(format(row.rollup.p50)) ms | \
                    \(format(row.rollup.max)) ms | \(format(row.baseline.p50)) ms | \(format(row.baseline.max)) ms | \
                    \(ratio(row.baseline.p50, row.rollup.p50)) | \(row.same ? "yes" : "**no**") |\n
                    """
            }
        }
        return out + "\n"
    }

    private func consoleSection() -> String {
        guard let customers = consoleCustomers, !console.isEmpty else { return "" }
        var out = "### Console pages at size, against `GET /health` on the same server\n\n"
        out +=
            """
            \(format(Double(customers))) customers with two years of revenue history; each page as a signed-in \
            operator gets it over loopback HTTP from the application in the bench's process (the first answer \
            warms the caches and is not counted); milliseconds per answer, median and slowest.\n\n
            """
        out += "| database | page | median | slowest | bytes | ÷ /health |\n|---|---|---:|---:|---:|---:|\n"
        for (database, rows) in console {
            let health = rows.first?.timing.p50 ?? 0
            for row in rows {
                out +=
                    """
                    | \(database) | \(row.page) | \(format(row.timing.p50)) ms | \(format(row.timing.max)) ms | \
                    \(format(Double(row.bytes))) | \(ratio(row.timing.p50, health)) |\n
                    """
            }
        }
        return out + "\n"
    }

    private func targetsSection() -> String {
        var out = "### Targets (issues 6 and 13)\n\n"
        func mark(_ met: Bool?) -> String { met.map { $0 ? "met" : "**not met**" } ?? "not measured" }
        let sqlite = meter.first { $0.0 == "SQLite" }?.1 ?? []
        for (keys, target) in [(1000, 1_000_000.0), (100_000, 250_000.0)] {
            for (batched, how) in [(false, "one consume per call"), (true, "`consume(batch:)`")] {
                let best = sqlite.filter { $0.keys == keys && ($0.batch > 1) == batched }.map(\.meter.perSecond).max()
                out +=
                    """
                    - in-process ≥ \(format(target)) consumes/s over \(format(Double(keys))) keys, \(how): \
                    \(format(best)) — \(mark(best.map { $0 >= target }))\n
                    """
            }
        }
        let sqliteHTTP = http.first { $0.0 == "SQLite" }?.1
        if let consume = sqliteHTTP?.consume?.requestsPerSecond, let health = sqliteHTTP?.health?.requestsPerSecond {
            out += "- HTTP consume ≥ 70% of /health: \(ratio(consume, health)) — \(mark(consume >= 0.7 * health))\n"
        }
        if let (_, paced) = sqliteHTTP?.consumePaced, let p99 = paced.p99,
            let peak = sqliteHTTP?.consume?.requestsPerSecond
        {
            out +=
                "- p99 ≤ 2 ms at about half the peak rate (paced, \(format(paced.requestsPerSecond / peak * 100)) "
                + "% of the peak): "
            out += "\(format(p99)) µs — \(mark(p99 <= 2000))\n"
        }
        if let events = sqliteHTTP?.events?.requestsPerSecond {
            out +=
                """
                - batched ingestion ≥ 100,000 events/s (SQLite): \(format(events * 1000)) — \
                \(mark(events * 1000 >= 100_000))\n
                """
        }
        if let events = http.first(where: { $0.0 == "PostgreSQL" })?.1.events?.requestsPerSecond {
            out +=
                """
                - batched ingestion ≥ 30,000 events/s (PostgreSQL): \(format(events * 1000)) — \
                \(mark(events * 1000 >= 30_000))\n
                """
        }
        if let bytes = bytesPerCounter {
            out += "- ≤ 200 bytes per live counter: \(format(bytes)) — \(mark(bytes <= 200))\n"
        }
        for (database, rows) in analytics {
            for row in rows {
                out +=
                    """
                    - analytics: \(row.answer) under 200 ms (\(database), median): \(format(row.rollup.p50)) ms — \
                    \(mark(row.rollup.p50 < 200 && row.same))\n
                    """
            }
        }
        for (database, rows) in console {
            let pages = rows.dropFirst()
            let slowest = pages.max { $0.timing.p50 < $1.timing.p50 }
            out +=
                """
                - console: every console page under 100 ms with \(format(Double(consoleCustomers ?? 0))) customers \
                (\(database), median; slowest: \(slowest?.page ?? "–") \(format(slowest?.timing.p50)) ms) — \
                \(mark(pages.allSatisfy { $0.timing.p50 < 100 }))\n
                """
        }
        return out
    }

    /// 10000000 as 10,000,000.
    static func grouped(_ value: Int) -> String {
        value.formatted(.number.grouping(.automatic)).replacingOccurrences(of: " ", with: ",")
    }

    private func format(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value >= 100 {
            return Self.grouped(Int(value.rounded()))
        }
        return String(format: "%.1f", value)
    }

    private func ratio(_ value: Double, _ baseline: Double) -> String {
        baseline > 0 ? String(format: "%.2f×", value / baseline) : "–"
    }
}
