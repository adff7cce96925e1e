import Foundation
import Synchronization

/// Programs the tests run beside them: a command to completion, or a peer server (localstripe,
/// an SMTP server) that says on its first lines which port it listens on.
public enum PeerProcess {
    private static let launching = Mutex(())

    /// Starts `process`, one launch at a time: Foundation's `Process.run()` on Linux crashed
    /// (a bad pointer in its memcpy) when tests in parallel launched programs at the same moment.
    public static func launch(_ process: Process) throws {
        try launching.withLock { _ in try process.run() }
    }

    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `program` to completion.
    public static func run(_ program: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try launch(process)
        // Both pipes drained at once: a child that fills one (64 KiB) while we wait on the other
        // would block forever.
        let stderrData = Mutex(Data())
        let stderrDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            stderrData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            stderrDone.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        stderrDone.wait()
        process.waitUntilExit()
        let stderr = stderrData.withLock { $0 }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    /// Starts a Python peer (`script` with `arguments`) and returns once it prints
    /// `listening on PORT`: the process and the port. Stop it with SIGKILL (the child may inherit
    /// a blocked SIGTERM from the test process).
    public static func startListening(script: String, arguments: [String] = []) async throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try PythonPeers.interpreter)
        process.arguments = [script] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try launch(process)
        let reader = output.fileHandleForReading
        let port = await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            Thread.detachNewThread {
                var text = ""
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { continuation.resume(returning: nil); return }
                    text += String(decoding: chunk, as: UTF8.self)
                    if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                        continuation.resume(returning: Int(line.dropFirst("listening on ".count)))
                        return
                    }
                }
            }
        }
        guard let port else {
            process.waitUntilExit()
            throw TestSupportError("\(script) exited before listening")
        }
        return (process, port)
    }
}

/// The SMTP server of the tests (aiosmtpd, `Tests/peers/smtp_server.py`), saving each message it
/// accepts as an `.eml` file in the directory given first. Stopped with SIGKILL (the child may
/// inherit a blocked SIGTERM from the test process).
public struct SMTPPeer: Sendable {
    public let process: Process
    public let port: Int

    /// `arguments`: the directory, then the script's mode and its arguments (see the script).
    public static func start(_ arguments: [String]) async throws -> SMTPPeer {
        let (process, port) = try await PeerProcess.startListening(
            script: Repository.path("Tests/peers/smtp_server.py"), arguments: arguments)
        return SMTPPeer(process: process, port: port)
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
