import Foundation
import Logging
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateServer
import TollgateStorage

/// A `tollgate serve` process loaded by wrk on loopback: consume and check against the same
/// server's `/health`, and batched ingestion through `/v1/events`.
struct ServerBench {
    let executable: String
    let location: DatabaseLocation
    let directory: String
    let duration: Int
    let keys: Int
    let logger: Logger

    struct Results: Sendable {
        var health: WrkResult?
        var consume: WrkResult?
        var check: WrkResult?
        /// The same checks against a server whose catalog limits each secret key (a limit too
        /// high to refuse anything): what the token bucket costs.
        var checkRateLimited: WrkResult?
        /// Consume at about half the peak rate: (connections, result).
        var consumeAtHalf: (Int, WrkResult)?
        /// 64 connections, each pausing between requests so that together they offer about half
        /// the peak rate: the pause in milliseconds, and the result.
        var consumePaced: (Int, WrkResult)?
        var events: WrkResult?
    }

    /// On PostgreSQL, in a scratch database of its own (dropped afterwards): the servers' data
    /// directories are new each run, and so is the master key that seals what the database keeps.
    func run() async throws -> Results {
        let (scratch, drop) = try await AnalyticsBench.scratchDatabase(location)
        do {
            let results = try await ServerBench(
                executable: executable, location: scratch, directory: directory, duration: duration, keys: keys,
                logger: logger
            ).runOnItsDatabase()
            await drop?()
            return results
        } catch {
            await drop?()
            throw error
        }
    }

    private func runOnItsDatabase() async throws -> Results {
        let catalogPath = directory + "/bench.yaml"
        try MeterBench.catalogYAML.write(toFile: catalogPath, atomically: true, encoding: .utf8)
        let store = try await SQLStore.open(location, logger: logger)
        let customers = MeterBench(store: store, label: "http", logger: logger)
        try await customers.prepare(keys: keys)
        let key = try await APIKeyService(store: store, clock: SystemClock(), forget: nil).create(
            scopes: [.admin], name: "bench")
        await store.shutdown()

        let limitedPath = directory + "/bench-limited.yaml"
        try ("rateLimits:\n  secretKey: { requestsPerMinute: 10000000 }\n" + MeterBench.catalogYAML).write(
            toFile: limitedPath, atomically: true, encoding: .utf8)
        let wrk = Wrk(duration: duration)
        let scripts = WrkScripts(directory: directory, apiKey: key.secret, customerPrefix: customers.prefix, keys: keys)
        var results = Results()
        do {
            let (server, url) = try serve(catalog: catalogPath)
            defer { server.stop() }
            try await measure(url: url, wrk: wrk, scripts: scripts, into: &results)
        }
        let (limited, url) = try serve(catalog: limitedPath)
        defer { limited.stop() }
        // The first run warms the new server's caches, as the consumes did the other's.
        _ = try Wrk(duration: max(1, duration / 2)).run(url: url, connections: 64, script: try scripts.write("check"))
        results.checkRateLimited = try wrk.run(url: url, connections: 64, script: try scripts.write("check"))
        return results
    }

    /// A server on a free port with `catalog`, and where it listens.
    private func serve(catalog: String) throws -> (ChildProcess, String) {
        var arguments = [
            "serve", "--port", "0", "--catalog", catalog, "--data-dir", directory, "--log-level", "error",
        ]
        if case .postgres(let url) = location { arguments += ["--database", url] }
        let server = try ChildProcess.start(
            executable, arguments, readyPrefix: "Tollgate listening on ", errorLog: directory + "/server.log")
        guard let url = server.readyLine?.split(separator: " ").dropFirst(3).first.map(String.init) else {
            server.stop()
            throw BenchError("the server did not say where it listens")
        }
        return (server, url)
    }

    private func measure(url: String, wrk: Wrk, scripts: WrkScripts, into results: inout Results) async throws {
        results.health = try wrk.run(url: url + "/health", connections: 64, script: nil)
        results.consume = try wrk.run(url: url, connections: 64, script: try scripts.write("consume"))
        results.check = try wrk.run(url: url, connections: 64, script: try scripts.write("check"))
        if let peak = results.consume?.requestsPerSecond {
            // wrk keeps a fixed number of requests in flight: fewer connections, a lower rate.
            var best: (Int, WrkResult)?
            for connections in [1, 2, 4, 8] {
                let result = try Wrk(duration: max(1, duration / 2)).run(
                    url: url, connections: connections, script: try scripts.write("consume"))
                if best == nil || abs(result.requestsPerSecond - peak / 2) < abs(best!.1.requestsPerSecond - peak / 2) {
                    best = (connections, result)
                }
            }
            results.consumeAtHalf = best
            // Closer to an open loop: many connections, each waiting `delay` ms after every
            // answer (wrk's delay()), so the offered rate, not the latency, sets the pace. One
            // correction of the delay from the rate the first try reached.
            // The delay stays short enough for every connection to send several requests per run.
            let connections = 64.0, target = peak / 2
            func clamped(_ milliseconds: Double) -> Int { min(max(1, Int(milliseconds.rounded())), duration * 100) }
            var delay = clamped(connections * 1000 / target - 1)
            var paced = try Wrk(duration: max(1, duration / 2)).run(
                url: url, connections: 64, script: try scripts.write("consume", delayMilliseconds: delay))
            if paced.requestsPerSecond > 0 {
                delay = clamped(Double(delay) * paced.requestsPerSecond / target)
                paced = try wrk.run(
                    url: url, connections: 64, script: try scripts.write("consume", delayMilliseconds: delay))
            }
            results.consumePaced = (delay, paced)
        }
        results.events = try wrk.run(url: url, connections: 4, script: try scripts.write("events"))
    }
}

/// wrk's Lua scripts: each request with a fresh idempotency key, over the bench's customers.
struct WrkScripts {
    let directory: String
    let apiKey: String
    let customerPrefix: String
    let keys: Int

    /// `delayMilliseconds`: a pause after each answer before the connection's next request.
    func write(_ kind: String, delayMilliseconds: Int? = nil) throws -> String {
        let run = "w" + UUID().uuidString.prefix(8).lowercased()
        let path = "\(directory)/\(kind)-\(run).lua"
        let request: String
        switch kind {
        case "consume":
            request = """
                local body = '{"customer":"' .. cust .. '-' .. (counter % keys) .. '","feature":"calls",'
                  .. '"idempotencyKey":"' .. run .. '-' .. tid .. '-' .. counter .. '"}'
                return wrk.format("POST", "/v1/consume", headers, body)
                """
        case "check":
            request = """
                local body = '{"customer":"' .. cust .. '-' .. (counter % keys) .. '","feature":"calls"}'
                return wrk.format("POST", "/v1/check", headers, body)
                """
        default:
            request = """
                local parts = {}
                for i = 1, 1000 do
                  parts[i] = '{"customer":"' .. cust .. '-' .. ((counter * 1000 + i) % keys) .. '","feature":"calls",'
                    .. '"idempotencyKey":"' .. run .. '-' .. tid .. '-' .. counter .. '-' .. i .. '"}'
                end
                return wrk.format("POST", "/v1/events", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
                """
        }
        let script = """
            cust = "\(customerPrefix)"
            run = "\(run)"
            keys = \(keys)
            counter = 0
            tid = 0
            local threads = 0
            headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer \(apiKey)" }
            function setup(thread)
              thread:set("tid", threads)
              threads = threads + 1
            end
            function request()
              counter = counter + 1
            \(request)
            end
            """ + (delayMilliseconds.map { "\nfunction delay()\n  return \($0)\nend\n" } ?? "")
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

public struct WrkResult: Sendable {
    public let requestsPerSecond: Double
    /// Microseconds.
    public let p50: Double?
    public let p99: Double?
    public let failures: Int
}

struct Wrk {
    let duration: Int

    static var available: Bool { ChildProcess.which("wrk") != nil }

    func run(url: String, connections: Int, script: String?) throws -> WrkResult {
        guard let wrk = ChildProcess.which("wrk") else {
            throw BenchError("wrk is not installed (apt-get install wrk)")
        }
        var arguments = ["-t\(min(2, connections))", "-c\(connections)", "-d\(duration)s", "--latency"]
        if let script { arguments += ["-s", script] }
        let output = try ChildProcess.output(wrk, arguments + [url])
        return try Self.parse(output)
    }

    static func parse(_ output: String) throws -> WrkResult {
        var rate: Double?
        var p50: Double?, p99: Double?
        var failures = 0
        for line in output.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), fields.count > 1 { rate = Double(fields[1]) }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let count = fields.last.flatMap({ Int($0) }) {
                failures += count
            }
            if line.hasPrefix("Socket errors:") {
                failures += line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +)
            }
            if fields.count == 2, fields[0] == "50%" { p50 = microseconds(String(fields[1])) }
            if fields.count == 2, fields[0] == "99%" { p99 = microseconds(String(fields[1])) }
        }
        guard let rate else { throw BenchError("could not read wrk's output:\n\(output)") }
        return WrkResult(requestsPerSecond: rate, p50: p50, p99: p99, failures: failures)
    }

    /// `850.00us`, `1.23ms`, `2.00s` in microseconds.
    static func microseconds(_ text: String) -> Double? {
        for (unit, factor) in [("us", 1.0), ("ms", 1000.0), ("s", 1_000_000.0)] where text.hasSuffix(unit) {
            return Double(text.dropLast(unit.count)).map { $0 * factor }
        }
        return nil
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
