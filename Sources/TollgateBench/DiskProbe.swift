import Foundation
import Histogram

/// What one durable write costs on this disk: append 4 KiB to a file and `fdatasync` it, over
/// and over. Every durable answer waits for at least one of these (SQLite's WAL commit is an
/// append and a sync), so their latency bounds the meter's.
enum DiskProbe {
    struct Result: Sendable {
        let syncsPerSecond: Double
        let p50: Double
        let p99: Double
    }

    static func measure(directory: String, duration: Duration) throws -> Result {
        let path = directory + "/disk-probe"
        let descriptor = open(path, O_CREAT | O_WRONLY | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
        defer {
            close(descriptor)
            unlink(path)
        }
        let page = [UInt8](repeating: 0x5a, count: 4096)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while start.duration(to: clock.now) < duration {
            let before = clock.now
            guard page.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == page.count,
                fdatasync(descriptor) == 0
            else {
                throw BenchError("write or fdatasync failed: errno \(errno)")
            }
            _ = histogram.record(before.duration(to: clock.now).wholeMicroseconds)
            count += 1
        }
        return Result(
            syncsPerSecond: Double(count) / start.duration(to: clock.now).inSeconds,
            p50: Double(histogram.valueAtPercentile(50)), p99: Double(histogram.valueAtPercentile(99))
        )
    }
}
