import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The built `tollgate` binary, next to the test bundle (or `TOLLGATE_BINARY`).
enum TollgateBinary {
    static var path: String {
        get throws {
            if let explicit = ProcessInfo.processInfo.environment["TOLLGATE_BINARY"] { return explicit }
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
            let candidate = directory.appendingPathComponent("tollgate").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw TestSupportError("tollgate binary not found at \(candidate): run swift build --build-tests first")
            }
            return candidate
        }
    }

    /// Runs a subcommand to completion.
    static func run(_ arguments: [String]) throws -> PeerProcess.Result {
        try PeerProcess.run(try path, arguments)
    }

    /// Runs any program to completion.
    static func runProgram(_ program: String, _ arguments: [String]) throws -> PeerProcess.Result {
        try PeerProcess.run(program, arguments)
    }
}

/// A `tollgate serve` child process on a free loopback port.
final class ServerProcess: Sendable {
    let process: Process
    let baseURL: URL

    private init(process: Process, baseURL: URL) {
        self.process = process
        self.baseURL = baseURL
    }

    /// Starts the server and returns once it says where it listens.
    static func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TollgateBinary.path)
        process.arguments = ["serve", "--port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let reader = out.fileHandleForReading
        try PeerProcess.launch(process)
        let url = await withCheckedContinuation { (continuation: CheckedContinuation<URL?, Never>) in
            Thread.detachNewThread {
                var buffer = ""
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { continuation.resume(returning: nil); return }
                    buffer += String(decoding: chunk, as: UTF8.self)
                    if let line = buffer.split(separator: "\n").first(where: { $0.hasPrefix("Tollgate listening on ") }
                    ),
                        let address = line.split(separator: " ").dropFirst(3).first
                    {
                        continuation.resume(returning: URL(string: String(address)))
                        // Keep draining so the child never blocks on a full pipe.
                        while !reader.availableData.isEmpty {}
                        return
                    }
                }
            }
        }
        guard let url else {
            process.waitUntilExit()
            throw TestSupportError("tollgate serve exited (status \(process.terminationStatus)) before listening")
        }
        return ServerProcess(process: process, baseURL: url)
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Sends a JSON request; returns the status and raw body.
    func request(_ method: String, _ path: String, key: String, json: String? = nil) async throws -> (
        status: Int, body: Data
    ) {
        var request = URLRequest(url: baseURL.appendingPathComponent(path))
        request.httpMethod = method
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = json.map { Data($0.utf8) }
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}
