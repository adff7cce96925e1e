import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

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
    static func run(_ arguments: [String]) async throws -> PeerProcess.Result {
        try await PeerProcess.run(try path, arguments)
    }

    /// Runs any program to completion.
    static func runProgram(_ program: String, _ arguments: [String]) async throws -> PeerProcess.Result {
        try await PeerProcess.run(program, arguments)
    }
}

/// A `tollgate serve` child process on a free loopback port.
final class ServerProcess: Sendable {
    let process: ChildProcess
    let baseURL: URL

    private init(process: ChildProcess, baseURL: URL) {
        self.process = process
        self.baseURL = baseURL
    }

    /// Starts the server and returns once it says where it listens.
    static func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> ServerProcess {
        let (process, out, _) = try ChildProcess.spawn(
            try TollgateBinary.path, ["serve", "--port", "0"] + arguments, environment: environment, stdout: .capture)
        guard let out else { throw TestSupportError("no pipe for tollgate serve") }
        let line = await ChildProcess.firstLine(of: out, startingWith: "Tollgate listening on ")
        guard let address = line?.split(separator: " ").first, let url = URL(string: String(address)) else {
            throw TestSupportError("tollgate serve exited (status \(await process.exit())) before listening")
        }
        return ServerProcess(process: process, baseURL: url)
    }

    func kill() {
        process.stop()
    }

    /// SIGTERM (a graceful shutdown), then waits for it to end.
    func stop() {
        process.signal(SIGTERM)
        process.wait()
    }

    /// Sends a JSON request; returns the status and raw body.
    func request(_ method: String, _ path: String, query: String? = nil, key: String, json: String? = nil)
        async throws -> (status: Int, body: Data)
    {
        let url = baseURL.appendingPathComponent(path).absoluteString + (query.map { "?" + $0 } ?? "")
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let json { request.body = .bytes(ByteBuffer(string: json)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Data(body.readableBytesView))
    }
}
