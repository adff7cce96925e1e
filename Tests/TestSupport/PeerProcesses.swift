import Foundation
import Synchronization

/// Programs the tests run beside them: a command to completion, or a peer server (localstripe,
/// an SMTP server) that says on its first lines which port it listens on.
public enum PeerProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `program` to completion. Its outputs are read and it is reaped on threads of their
    /// own: a test awaiting a peer that runs for minutes (schemathesis, a browser) holds none of
    /// the cooperative pool's threads, which the in-process servers of other tests need.
    public static func run(_ program: String, _ arguments: [String]) async throws -> Result {
        let (process, out, err) = try ChildProcess.spawn(program, arguments, stdout: .capture, stderr: .capture)
        guard let out, let err else { throw TestSupportError("no pipes for \(program)") }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            Thread.detachNewThread {
                // Both pipes drained at once: a child that fills one (64 KiB) while we wait on
                // the other would block forever.
                let stderrData = Mutex(Data())
                let stderrDone = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    stderrData.withLock { $0 = ChildProcess.readToEnd(err) }
                    stderrDone.signal()
                }
                let stdout = ChildProcess.readToEnd(out)
                stderrDone.wait()
                let status = process.wait()
                let stderr = stderrData.withLock { $0 }
                continuation.resume(
                    returning: Result(
                        status: status, stdout: String(decoding: stdout, as: UTF8.self),
                        stderr: String(decoding: stderr, as: UTF8.self)))
            }
        }
    }

    /// Starts a Python peer (`script` with `arguments`) and returns once it prints
    /// `listening on PORT`: the process and the port. Stop it with `stop()` (SIGKILL and reap).
    public static func startListening(script: String, arguments: [String] = []) async throws -> (ChildProcess, Int) {
        let (process, out, _) = try ChildProcess.spawn(
            try PythonPeers.interpreter, [script] + arguments, stdout: .capture)
        guard let out else { throw TestSupportError("no pipe for \(script)") }
        guard let port = await ChildProcess.firstLine(of: out, startingWith: "listening on ").flatMap({ Int($0) })
        else {
            process.stop()
            throw TestSupportError("\(script) exited before listening")
        }
        return (process, port)
    }
}

/// The SMTP server of the tests (aiosmtpd, `Tests/peers/smtp_server.py`), saving each message it
/// accepts as an `.eml` file in the directory given first.
public struct SMTPPeer: Sendable {
    public let process: ChildProcess
    public let port: Int

    /// `arguments`: the directory, then the script's mode and its arguments (see the script).
    public static func start(_ arguments: [String]) async throws -> SMTPPeer {
        let (process, port) = try await PeerProcess.startListening(
            script: Repository.path("Tests/peers/smtp_server.py"), arguments: arguments)
        return SMTPPeer(process: process, port: port)
    }

    public func stop() {
        process.stop()
    }
}

/// A self-signed certificate for localhost and 127.0.0.1 (openssl), and its key, in `directory`.
public enum TestCertificate {
    public static func make(in directory: URL) async throws -> (cert: String, key: String) {
        let (cert, key) = (
            directory.appendingPathComponent("cert.pem").path, directory.appendingPathComponent("key.pem").path
        )
        let made = try await PeerProcess.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
        guard made.status == 0 else { throw TestSupportError("openssl: \(made.stderr)") }
        return (cert, key)
    }
}

/// A loopback port nothing listens on: bound, then released.
public enum LoopbackPort {
    public static func free() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestSupportError("socket: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw TestSupportError("bind: errno \(errno)") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
