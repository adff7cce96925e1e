import Foundation
import Logging
import TestSupport
import Testing

@testable import TollgateServer

/// Prometheus metrics on their own loopback port, read back by prometheus_client's
/// parser; readiness; JSON logs with request ids.
@Suite struct MetricsTests {
    typealias Samples = [String: [(labels: [String: String], value: Double)]]

    static func scrape(_ url: String) async throws -> Samples {
        let run = try await PeerProcess.run(
            try PythonPeers.interpreter, [Repository.path("Tests/peers/read_metrics.py"), url])
        guard run.status == 0,
            let parsed = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [[Any]]]
        else { throw TestSupportError("cannot read the metrics: \(run.stderr)") }
        return parsed.mapValues { rows in
            rows.map { (labels: $0[0] as? [String: String] ?? [:], value: ($0[1] as? NSNumber)?.doubleValue ?? -1) }
        }
    }

    static func value(_ samples: Samples, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples[name]?.first { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }

    @Test func theServerCountsRequestsConsumesCommitsAndCaches() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data").path
        let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--data-dir", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try LoopbackPort.free()
        let server = try await ServerProcess.start([
            "--data-dir", data, "--metrics-port", String(port), "--log-format", "json",
        ])
        defer { server.stop() }
        #expect(try await server.request("GET", "health/ready", key: "-").status == 200)
        #expect(try await server.request("POST", "v1/customers", key: key, json: #"{"id":"c1"}"#).status == 201)
        for index in 1...2 {
            let consumed = try await server.request(
                "POST", "v1/consume", key: key,
                json: #"{"customer":"c1","feature":"semantic_search","idempotencyKey":"k\#(index)"}"#)
            #expect(consumed.status == 200)
        }
        let refused = try await server.request(
            "POST", "v1/consume", key: key, json: #"{"customer":"c1","feature":"reformulate","idempotencyKey":"r"}"#)
        #expect(refused.status == 429)
        #expect(try await server.request("GET", "metrics", key: "-").status == 404, "not on the API's port")

        let samples = try await Self.scrape("http://127.0.0.1:\(port)/metrics")
        #expect(
            Self.value(samples, "tollgate_http_requests_total", ["route": "/v1/consume", "status": "200"]) == 2)
        #expect(
            Self.value(samples, "tollgate_http_requests_total", ["route": "/v1/consume", "status": "429"]) == 1)
        #expect(
            Self.value(samples, "tollgate_http_request_duration_seconds_count", ["route": "/v1/consume"]) == 3)
        #expect(Self.value(samples, "tollgate_consumes_total", ["outcome": "allowed"]) == 2)
        #expect(Self.value(samples, "tollgate_consumes_total", ["outcome": "refused", "reason": "TIER_LIMITED"]) == 1)
        #expect((Self.value(samples, "tollgate_group_commit_entries_count") ?? 0) >= 2)
        #expect((Self.value(samples, "tollgate_group_commit_duration_seconds_count") ?? 0) >= 2)
        #expect(Self.value(samples, "tollgate_cache_entries", ["cache": "customers"]) == 1)
        #expect((Self.value(samples, "tollgate_cache_hits_total", ["cache": "api_keys"]) ?? 0) >= 3)
        #expect(Self.value(samples, "tollgate_outbox_failed") == 0)
        #expect(Self.value(samples, "tollgate_leases_held") == 0)
        #expect(samples.keys.allSatisfy { $0.hasPrefix("tollgate_") }, "\(samples.keys.sorted())")
    }

    @Test func aJSONLogLineCarriesTheRequestId() throws {
        let line = JSONLogHandler.line(
            level: .warning, label: "tollgate", message: "quota \"x\" reached", source: "TollgateServer",
            metadata: ["hb.request.id": "abc123", "customer": "c1"], at: Date(timeIntervalSince1970: 0))
        #expect(line.last == 0x0A && !line.dropLast().contains(0x0A), "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: String])
        #expect(object["request_id"] == "abc123" && object["customer"] == "c1")
        #expect(object["message"] == "quota \"x\" reached" && object["level"] == "warning")
        #expect(object["time"] == "1970-01-01T00:00:00Z")
    }
}
