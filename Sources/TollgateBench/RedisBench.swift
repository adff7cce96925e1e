import Foundation

/// The seed's design as a baseline: `INCR` on a local Redis (a benchmark peer only, never a
/// dependency), without persistence as the seed runs it, and with every write fsynced.
struct RedisBench {
    let directory: String
    let requests: Int

    struct Results: Sendable {
        let inMemory: Double
        let fsyncAlways: Double
    }

    static var available: Bool {
        ChildProcess.which("redis-server") != nil && ChildProcess.which("redis-benchmark") != nil
    }

    func run() throws -> Results {
        Results(
            inMemory: try incr(["--save", "", "--appendonly", "no"]),
            fsyncAlways: try incr(["--save", "", "--appendonly", "yes", "--appendfsync", "always"])
        )
    }

    private func incr(_ persistence: [String]) throws -> Double {
        guard let server = ChildProcess.which("redis-server"), let benchmark = ChildProcess.which("redis-benchmark")
        else {
            throw BenchError("redis-server and redis-benchmark are not installed (apt-get install redis-server)")
        }
        // A random port below the kernel's ephemeral range (32768+), tried again if taken.
        var attempt = 0
        var started: (ChildProcess, String)?
        while started == nil {
            let port = String(Int.random(in: 20_000...32_000))
            let dir = directory + "/redis-\(port)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            do {
                started = (
                    try ChildProcess.start(
                        server, ["--port", port, "--bind", "127.0.0.1", "--dir", dir] + persistence,
                        readyPrefix: "Ready to accept connections"), port
                )
            } catch  where attempt < 4 {
                attempt += 1
            }
        }
        let (redis, port) = started!
        defer { redis.stop() }
        let output = try ChildProcess.output(
            benchmark, ["-h", "127.0.0.1", "-p", port, "-t", "incr", "-n", String(requests), "-c", "64", "-q"])
        // "INCR: 123456.79 requests per second, p50=0.199 msec"
        guard
            let line = output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: { $0.contains("INCR:") }),
            let rate = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else {
            throw BenchError("could not read redis-benchmark's output:\n\(output)")
        }
        return rate
    }
}
