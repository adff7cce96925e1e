import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import NIOSSL
import TestSupport
import Testing

@testable import TollgateServer

/// Security headers on every answer, CORS for the origins listed only, TLS from
/// PEM files, and idle or slow connections closed.
@Suite struct HTTPHardeningTests {
    @Test func everyAnswerHasTheSecurityHeadersAndOnlyListedOriginsGetCORS() async throws {
        try await AppHarness.run(.sqlite, configure: { $0.http.corsOrigins = ["https://app.example.com"] }) {
            app, client in
            for path in ["/health", "/v1/customers/nobody", "/no/such/page", "/console/login", "/portal/login"] {
                let answer = try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer x"])
                #expect(answer.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(path)")
                #expect(answer.headers[HTTPField.Name("Referrer-Policy")!] != nil, "\(path)")
                #expect(answer.headers[HTTPField.Name("Strict-Transport-Security")!] == nil, "no TLS here")
            }
            let preflight = try await client.execute(
                uri: "/v1/consume", method: .options,
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            let allowed = try await client.execute(
                uri: "/v1/customers/nobody", method: .get,
                headers: [.origin: "https://app.example.com", .authorization: "Bearer \(app.adminKey)"])
            #expect(
                allowed.status == .notFound && allowed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(allowed.headers[.vary]?.contains("Origin") == true)
            for origin in ["https://evil.example.com", "https://app.example.com.evil.net", "null"] {
                let refused = try await client.execute(
                    uri: "/v1/consume", method: .options,
                    headers: [.origin: origin, .accessControlRequestMethod: "POST"])
                #expect(refused.headers[.accessControlAllowOrigin] == nil, "\(origin)")
                let read = try await client.execute(uri: "/health", method: .get, headers: [.origin: origin])
                #expect(read.headers[.accessControlAllowOrigin] == nil, "\(origin)")
            }
        }
    }

    @Test func tlsFromPEMFilesAndSlowClientsAreCut() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try await TestCertificate.make(in: directory)
        let refused = try await TollgateBinary.run([
            "serve", "--port", "0", "--data-dir", directory.appendingPathComponent("x").path, "--tls-cert", cert,
        ])
        #expect(refused.status != 0 && refused.stderr.contains("--tls-cert and --tls-key go together"))
        let server = try await ServerProcess.start([
            "--data-dir", directory.appendingPathComponent("data").path, "--tls-cert", cert, "--tls-key", key,
            "--idle-timeout-seconds", "1",
        ])
        defer { server.stop() }
        #expect(server.baseURL.scheme == "https")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        tls.certificateVerification = .noHostnameVerification
        let client = HTTPClient(configuration: .init(tlsConfiguration: tls))
        let health: HTTPClientResponse
        do {
            health = try await client.execute(
                HTTPClientRequest(url: server.baseURL.appendingPathComponent("health").absoluteString),
                timeout: .seconds(30))
            try await client.shutdown()
        } catch {
            try await client.shutdown()
            throw error
        }
        #expect(health.status == .ok && health.headers.first(name: "Strict-Transport-Security") != nil)
        // Plain http to the TLS port is not answered as http.
        let plain = try await PeerProcess.run(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "http://127.0.0.1:\(server.baseURL.port ?? 0)/health",
            ])
        #expect(plain.stdout != "200")
        // A client that sends half a request and waits is cut off after the idle timeout.
        let slow = try await PeerProcess.run(
            try PythonPeers.interpreter,
            [
                "-c",
                """
                import socket, ssl, sys, time
                context = ssl.create_default_context(cafile=sys.argv[1]); context.check_hostname = False
                raw = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
                s = context.wrap_socket(raw)
                s.sendall(b"GET /health HTTP/1.1\\r\\nHost: x\\r\\n")
                s.settimeout(30); start = time.time()
                print("closed" if s.recv(100) == b"" else "answered", round(time.time() - start))
                """, cert, String(server.baseURL.port ?? 0),
            ])
        #expect(slow.stdout.starts(with: "closed"), "\(slow.stdout) \(slow.stderr)")
    }
}
