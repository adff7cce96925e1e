import Foundation
import Synchronization
import TestSupport
import Testing

/// `tollgate backup` while consumes and debits pour in, the server killed, the
/// backup restored into a new data directory: every consume acknowledged before the backup began
/// is there (and no more than were sent), its idempotency record too, and the credit ledger adds
/// up to the balance.
@Suite struct BackupTests {
    struct Ack: Sendable {
        let customer: String
        let key: String
        let used: Int
        let at: ContinuousClock.Instant
    }

    /// What the load did, shared by its tasks.
    final class Load: Sendable {
        let acks = Mutex<[Ack]>([])
        let stopped = Mutex(false)
        var isStopped: Bool { stopped.withLock { $0 } }
    }

    static func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    @Test func aBackupUnderLoadHoldsEverythingAcknowledgedBeforeItBegan() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first").path
        let restored = directory.appendingPathComponent("restored").path
        let backupFile = directory.appendingPathComponent("tollgate.backup").path
        let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--data-dir", first]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try await ServerProcess.start(["--data-dir", first])
        let customers = ["c0", "c1", "c2", "c3"]
        for customer in customers {
            #expect(
                try await server.request("POST", "v1/customers", key: key, json: #"{"id":"\#(customer)"}"#).status
                    == 201)
            #expect(
                try await server.request(
                    "PUT", "v1/customers/\(customer)/plan", key: key, json: #"{"plan":"business"}"#
                )
                .status == 200)
        }
        let grant = #"{"amount":100000,"reason":"grant","idempotencyKey":"g1"}"#
        #expect(try await server.request("POST", "v1/customers/c0/credits/grants", key: key, json: grant).status == 201)

        // Four consumers and a debitor, until told to stop; each acknowledgement is recorded with
        // its time, and announced.
        let record = Load()
        let (announced, announce) = AsyncStream.makeStream(of: Int.self)
        let load = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for customer in customers {
                    group.addTask {
                        var index = 0
                        while !record.isStopped, index < 900 {
                            index += 1
                            let idempotencyKey = "\(customer)-\(index)"
                            let answer = try await server.request(
                                "POST", "v1/consume", key: key,
                                json: #"{"customer":"\#(customer)","feature":"semantic_search","#
                                    + #""idempotencyKey":"\#(idempotencyKey)"}"#)
                            guard answer.status == 200, let used = Self.json(answer.body)["used"] as? Int else {
                                continue
                            }
                            let count = record.acks.withLock {
                                $0.append(Ack(customer: customer, key: idempotencyKey, used: used, at: .now))
                                return $0.count
                            }
                            announce.yield(count)
                        }
                    }
                }
                group.addTask {
                    var index = 0
                    while !record.isStopped, index < 900 {
                        index += 1
                        _ = try await server.request(
                            "POST", "v1/credits/debit", key: key,
                            json: #"{"customer":"c0","amount":3,"idempotencyKey":"d\#(index)"}"#)
                    }
                }
                try await group.waitForAll()
            }
        }
        // The backup begins once the load is well under way, and runs beside it.
        for await count in announced where count >= 60 { break }
        let began = ContinuousClock.now
        let backup = try await TollgateBinary.run(["backup", "--to", backupFile, "--data-dir", first])
        #expect(backup.status == 0, "\(backup.stderr)")
        // Written where only its owner may look, then moved into place: 0600 whatever the umask,
        // nothing left beside it, and a second backup to the same path refused.
        let mode = try FileManager.default.attributesOfItem(atPath: backupFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let beside = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!beside.contains { $0.contains(".partial-") }, "\(beside)")
        let twice = try await TollgateBinary.run(["backup", "--to", backupFile, "--data-dir", first])
        #expect(twice.status != 0 && twice.stderr.contains("exists already"), "\(twice.stderr)")
        let countAtEnd = record.acks.withLock { $0.count }
        for await count in announced where count >= countAtEnd + 40 { break }
        record.stopped.withLock { $0 = true }
        server.kill()
        _ = try? await load.value
        announce.finish()

        let restore = try await TollgateBinary.run(["restore", "--from", backupFile, "--data-dir", restored])
        #expect(restore.status == 0 && restore.stdout.contains("with 1 key file"), "\(restore.stderr)")
        let again = try await ServerProcess.start(["--data-dir", restored])
        defer { again.stop() }
        let all = record.acks.withLock { $0 }
        #expect(all.contains { $0.at > began }, "the load went on while the backup ran")
        for customer in customers {
            let before = all.filter { $0.customer == customer && $0.at < began }
            let sent = all.filter { $0.customer == customer }.count
            let check = Self.json(
                try await again.request(
                    "POST", "v1/check", key: key, json: #"{"customer":"\#(customer)","feature":"semantic_search"}"#
                ).body)
            let used = try #require(check["used"] as? Int)
            #expect(
                used >= before.count && used <= sent, "\(customer): \(used) used, \(before.count) acknowledged before")
            // An acknowledged consume's key answers as it did: its record came back too.
            if let last = before.last {
                let replay = Self.json(
                    try await again.request(
                        "POST", "v1/consume", key: key,
                        json:
                            #"{"customer":"\#(customer)","feature":"semantic_search","idempotencyKey":"\#(last.key)"}"#
                    ).body)
                #expect(replay["used"] as? Int == last.used, "\(last.key) replays its first answer")
            }
        }
        let balance = Self.json(try await again.request("GET", "v1/customers/c0/credits", key: key).body)
        let entry = try #require((balance["balances"] as? [[String: Any]])?.first)
        let current = try #require(entry["balance"] as? Int)
        let creditType = try #require(entry["creditType"] as? String)
        let history = Self.json(
            try await again.request(
                "GET", "v1/customers/c0/credits/history", query: "creditType=\(creditType)&limit=1000", key: key
            ).body)
        let deltas = (history["data"] as? [[String: Any]] ?? []).compactMap { $0["delta"] as? Int }
        #expect(
            deltas.reduce(0, +) == current && current <= 100_000,
            "the ledger adds up to the balance: \(current), \(deltas.count) lines, \(history["nextCursor"] ?? "-")")
    }

    @Test func postgreSQLIsBackedUpByItsOwnTools() async throws {
        let refused = try await TollgateBinary.run([
            "backup", "--to", NSTemporaryDirectory() + UUID().uuidString, "--database", "postgres://x@127.0.0.1:1/x",
        ])
        #expect(refused.status != 0 && refused.stderr.contains("pg_dump"), "\(refused.stderr)")
    }
}
