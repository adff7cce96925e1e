import Foundation

/// A helper process of the bench (the server, wrk, Redis), with its output read on a thread.
final class ChildProcess: @unchecked Sendable {
    let process: Process
    /// The first line of output that started with the awaited prefix.
    private(set) var readyLine: String?

    private init(process: Process) { self.process = process }

    static func which(_ name: String) -> String? {
        let paths: [String] =
            (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + [
                "/usr/sbin", "/usr/local/bin",
            ]
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts `executable` and returns once a line of its output starts with `readyPrefix`.
    /// Its standard error goes to `errorLog` when given (to say why it stopped).
    static func start(_ executable: String, _ arguments: [String], readyPrefix: String, errorLog: String? = nil) throws
        -> ChildProcess
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if let errorLog, FileManager.default.createFile(atPath: errorLog, contents: nil),
            let handle = FileHandle(forWritingAtPath: errorLog)
        {
            process.standardError = handle
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let child = ChildProcess(process: process)
        var text = ""
        while child.readyLine == nil {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty {
                let said = errorLog.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
                throw BenchError(
                    """
                    \(executable) \(arguments.joined(separator: " ")) exited before saying \
                    \(readyPrefix)\n\(said.suffix(2000))
                    """
                )
            }
            text += String(decoding: chunk, as: UTF8.self)
            child.readyLine = text.split(separator: "\n").first { $0.contains(readyPrefix) }.map(String.init)
        }
        // Keep draining, so a chatty child never blocks on a full pipe.
        Thread.detachNewThread { while !pipe.fileHandleForReading.availableData.isEmpty {} }
        return child
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs `executable` to completion and returns what it printed.
    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
