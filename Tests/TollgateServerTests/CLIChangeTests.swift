import Foundation
import TestSupport
import Testing
import TollgateSQL
import TollgateStorage

/// A CLI command writing the data directory of a running server (SQLite) used
/// to reach the server's caches only at its next restart.
@Suite struct CLIChangeTests {
    @Test(arguments: TestDatabase.all)
    func aPlanSetFromTheCLIReachesTheRunningServerWithinASecond(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let arguments = location.commandArguments()
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin"] + arguments).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            defer { server.kill() }
            #expect(try await server.request("POST", "v1/customers", key: key, json: #"{"id":"u1"}"#).status == 201)
            // The server has the customer cached on the free plan now.
            let before = try await server.request("GET", "v1/customers/u1", key: key)
            #expect(String(decoding: before.body, as: UTF8.self).contains(#""plan":"basic""#))

            let moved = try await TollgateBinary.run(["customers", "set-plan", "u1", "pro"] + arguments)
            #expect(moved.status == 0, "\(moved.stderr)")
            // The server polls five times a second; the slack is for a machine busy with the rest of
            // the suite in parallel (a process starved of CPU missed a one-, then a two-second
            // deadline). The loop ends as soon as the change is seen: slack costs nothing.
            let deadline = ContinuousClock.now + .seconds(10)
            var seen = ""
            repeat {
                seen = String(
                    decoding: try await server.request("GET", "v1/customers/u1", key: key).body, as: UTF8.self)
            } while !seen.contains(#""plan":"pro""#) && ContinuousClock.now < deadline
            #expect(seen.contains(#""plan":"pro""#), "after ten seconds the server still said \(seen)")
            // The command is in the audit trail, as done at the terminal, with the plan before and after.
            let trail = try await server.request("GET", "v1/audit-events", query: "actor=system", key: key)
            let entries = try JSONSerialization.jsonObject(with: trail.body) as? [String: Any]
            let actions = (entries?["data"] as? [[String: Any]])?.compactMap { entry -> String? in
                guard (entry["actor"] as? [String: Any])?["id"] as? String == "cli:" + NSUserName() else { return nil }
                return entry["action"] as? String
            }
            #expect(actions == ["customer.plan_changed", "api_key.created"], "\(String(describing: entries))")
        }
    }
}

/// Operators see the outbox and send a failed message again, from the CLI.
@Suite struct OutboxCLITests {
    @Test func listShowsFailedMailAndRetryQueuesItAgain() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try await TollgateBinary.run(["migrate", "--data-dir", directory.path]).status == 0)
        let store = try await SQLStore.open(.sqlite(directory: directory.path), logger: TestDatabase.logger)
        do {
            try await store.enqueueOutbox([
                OutboxMessage(
                    id: "msg_cli1", kind: "email.reset_password", recipient: "a@example.com", payload: "{}",
                    createdAt: Date())
            ])
            _ = try await store.claimOutbox(node: "n", lane: .mail, now: Date(), limit: 1, leaseMillis: 1)
            try await store.markOutboxFailed(id: "msg_cli1", error: "550 no such mailbox", retryAt: nil, at: Date())
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
        let failed = try await TollgateBinary.run(["outbox", "list", "--failed", "--data-dir", directory.path])
        #expect(
            failed.status == 0 && failed.stdout.contains("msg_cli1") && failed.stdout.contains("550 no such mailbox"))
        #expect(failed.stdout.contains("outbox: nothing waiting; 1 failed for good"), "\(failed.stdout)")
        #expect(
            try await TollgateBinary.run(["outbox", "retry", "msg_cli1", "--data-dir", directory.path]).status == 0)
        let again = try await TollgateBinary.run(["outbox", "list", "--failed", "--data-dir", directory.path])
        #expect(again.stdout.contains("no failed messages"))
        let waiting = try await TollgateBinary.run(["outbox", "list", "--data-dir", directory.path])
        #expect(waiting.stdout.contains("msg_cli1") && waiting.stdout.contains("attempts 1"))
        #expect(waiting.stdout.contains("outbox: 1 waiting (email 1), oldest for "), "\(waiting.stdout)")
        let status = try await TollgateBinary.run(["status", "--data-dir", directory.path])
        #expect(status.stdout.contains("outbox: 1 waiting (email 1)") && status.stdout.contains("0 failed for good"))
        #expect(
            try await TollgateBinary.run(["outbox", "retry", "msg_nope", "--data-dir", directory.path]).status == 1)
    }
}
