import Foundation
import Histogram

/// One measured figure: how many operations per second, and their latency.
public struct Measurement: Sendable {
    public var operations: Int
    public var seconds: Double
    /// Latency percentiles in microseconds (nil when not measured per operation).
    public var p50: Double?
    public var p99: Double?
    /// Bytes this process wrote (write calls: WAL, checkpoints) during the figure, when asked.
    public var bytesWritten: Int?

    /// Bytes written per operation, when they were counted.
    public var bytesPerOperation: Double? { bytesWritten.map { operations > 0 ? Double($0) / Double(operations) : 0 } }

    public var perSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
}

/// Runs `tasks` concurrent loops of `operation` for `duration`, timing each call.
/// `operation(task, iteration)` does one unit of work.
func measureLoop(
    tasks: Int, duration: Duration,
    _ operation: @escaping @Sendable (_ task: Int, _ iteration: Int) async throws -> Void
) async throws -> Measurement {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + duration
    let results = try await withThrowingTaskGroup(of: (Int, Histogram<UInt64>).self) { group in
        for task in 0..<tasks {
            group.addTask {
                var histogram = Histogram<UInt64>(
                    highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                var count = 0
                while clock.now < deadline {
                    let before = clock.now
                    try await operation(task, count)
                    let elapsed = before.duration(to: clock.now)
                    _ = histogram.record(elapsed.wholeMicroseconds)
                    count += 1
                }
                return (count, histogram)
            }
        }
        var total = 0
        var merged = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for try await (count, histogram) in group {
            total += count
            merged.add(histogram)
        }
        return (total, merged)
    }
    let elapsed = start.duration(to: clock.now)
    let seconds = elapsed.inSeconds
    return Measurement(
        operations: results.0, seconds: seconds,
        p50: Double(results.1.valueAtPercentile(50)), p99: Double(results.1.valueAtPercentile(99))
    )
}

/// The machine a run was made on, for the record.
public struct MachineDescription: Sendable {
    public let cores: Int
    public let memoryBytes: UInt64
    public let cpu: String
    public let system: String

    public static func current() -> MachineDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines) ?? ""
        return MachineDescription(
            cores: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: ProcessInfo.processInfo.physicalMemory,
            cpu: model,
            system: "Linux \(kernel)"
        )
    }

    public var summary: String {
        "\(cores) cores (\(cpu)), \(memoryBytes / (1 << 30)) GiB, \(system)"
    }
}

/// Resident memory of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Bytes this process has passed to write calls so far (`wchar` of /proc/self/io).
func bytesWrittenSoFar() -> Int {
    guard let io = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    let line = io.split(separator: "\n").first { $0.hasPrefix("wchar:") }
    return line.flatMap { Int($0.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
}

extension Duration {
    /// Whole microseconds (never negative), as the latency histograms record them.
    var wholeMicroseconds: UInt64 {
        UInt64(max(0, components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000))
    }

    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
