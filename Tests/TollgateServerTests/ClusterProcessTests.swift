import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateIdentity
import TollgateStorage

/// Three `tollgate serve --cluster` processes on one PostgreSQL, loaded at once on the same
/// counter; one is SIGKILLed mid-run. Nothing passes the limit, nothing acknowledged is lost,
/// and what the killed node held comes back when its lease expires.
@Suite(.serialized) struct ClusterProcessTests {
    static let limit = 600
    static let catalog = """
        product: cluster
        name: Cluster
        defaultPlan: metered
        features:
          calls: { type: metered, name: Calls }
        plans:
          - id: metered
            name: Metered
            order: 0
            features:
              calls: { limit: \(limit), period: monthly }
        """

    final class Run: Sendable {
        let answers = Mutex<[String: Int]>([:])
        let attempted = Mutex<[String: Int]>([:])
        let killed = Atomic<Bool>(false)
        var accepted: Int { answers.withLock { $0.values.filter { $0 == 200 }.count } }
    }

    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func threeNodesNeverOvershootNorLoseAnAcknowledgedConsumeWhenOneIsKilled() async throws {
        try await TestDatabase.postgres.withLocation { location in
            let url: String
            switch location.location {
            case .postgres(let postgres): url = postgres
            case .sqlite: throw TestSupportError("a cluster needs PostgreSQL")
            }
            let catalogPath = NSTemporaryDirectory() + "cluster-\(UUID().uuidString).yaml"
            try Self.catalog.write(toFile: catalogPath, atomically: true, encoding: .utf8)
            // Nodes on one database share its master key (the secrets it seals are theirs in common).
            let masterKey = SecretBox.generateKey().base64EncodedString()
            func node() async throws -> ServerProcess {
                let directory = NSTemporaryDirectory() + "tollgate-node-\(UUID().uuidString)"
                return try await ServerProcess.start(
                    [
                        "--database", url, "--data-dir", directory, "--catalog", catalogPath, "--cluster",
                        "--lease-seconds", "3",
                    ], environment: ["TOLLGATE_MASTER_KEY": masterKey])
            }
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--database", url]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            var nodes = [try await node(), try await node(), try await node()]
            defer { nodes.forEach { $0.stop() } }
            #expect(try await nodes[0].request("POST", "v1/customers", key: key, json: #"{"id":"u1"}"#).status == 201)

            let run = Run()
            let servers = nodes
            await withTaskGroup(of: Void.self) { group in
                for (index, server) in servers.enumerated() {
                    for worker in 0..<6 {
                        group.addTask {
                            for attempt in 0... {
                                if index == 2 && run.killed.load(ordering: .relaxed) { return }
                                let idempotencyKey = "n\(index)-w\(worker)-\(attempt)"
                                run.attempted.withLock { $0[idempotencyKey] = index }
                                let body = #"{"customer":"u1","feature":"calls","idempotencyKey":"\#(idempotencyKey)"}"#
                                guard
                                    let (status, _) = try? await server.request(
                                        "POST", "v1/consume", key: key, json: body)
                                else { return }
                                run.answers.withLock { $0[idempotencyKey] = status }
                                guard status == 200 else { return }
                                if run.accepted >= 200,
                                    run.killed.compareExchange(expected: false, desired: true, ordering: .relaxed)
                                        .exchanged
                                {
                                    servers[2].kill()
                                }
                            }
                        }
                    }
                }
            }
            let wasKilled = run.killed.load(ordering: .relaxed)
            #expect(wasKilled, "node 2 was never killed")
            let acceptedBeforeExpiry = run.accepted
            let unanswered = run.attempted.withLock { $0 }.keys.filter { run.answers.withLock { $0 }[$0] == nil }
            #expect(acceptedBeforeExpiry <= Self.limit)
            #expect(
                run.answers.withLock { $0 }.values.allSatisfy { $0 == 200 || $0 == 429 }, "only accepted or refused")
            // Stranded until the killed node's lease expires: at most one grant, an eighth of the limit.
            #expect(
                acceptedBeforeExpiry + unanswered.count >= Self.limit - Self.limit / 8,
                "accepted \(acceptedBeforeExpiry)")

            // The killed node comes back; its unanswered consumes are retried (a committed one replays).
            nodes[2] = try await node()
            for idempotencyKey in unanswered {
                let body = #"{"customer":"u1","feature":"calls","idempotencyKey":"\#(idempotencyKey)"}"#
                let (status, _) = try await nodes[2].request("POST", "v1/consume", key: key, json: body)
                run.answers.withLock { $0[idempotencyKey] = status }
            }
            // Once the dead lease expires (3 s), its units are consumable again: drain them.
            var attempt = 0
            let deadline = ContinuousClock.now + .seconds(15)
            while run.accepted < Self.limit, ContinuousClock.now < deadline {
                let idempotencyKey = "drain-\(attempt)"
                attempt += 1
                let (status, _) = try await nodes[attempt % 2].request(
                    "POST", "v1/consume", key: key,
                    json: #"{"customer":"u1","feature":"calls","idempotencyKey":"\#(idempotencyKey)"}"#)
                run.answers.withLock { $0[idempotencyKey] = status }
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(run.accepted == Self.limit, "every unit is used in the end, none twice")
            let (_, data) = try await nodes[1].request("GET", "v1/customers/u1/entitlements", key: key)
            let features =
                (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["features"] as? [[String: Any]] ?? []
            let calls: [String: Any]? = features.first { ($0["feature"] as? String) == "calls" }
            let counted = calls?["used"] as? Int
            let accepted = run.accepted
            #expect(counted == accepted, "counted = accepted")
            let (status, _) = try await nodes[0].request(
                "POST", "v1/consume", key: key,
                json: #"{"customer":"u1","feature":"calls","idempotencyKey":"one-more"}"#)
            #expect(status == 429)
        }
    }
}
