import Foundation
import Synchronization
import TestSupport
import Testing
import TollgateSQL
import TollgateStorage

/// The `tollgate` binary as an operator runs it: subcommands, and a server killed under load.
@Suite(.serialized) struct ProcessTests {
    /// Every run gets a data directory of its own (it also holds the generated keys), never the
    /// working directory's.
    func databaseArguments(_ location: TestDatabaseLocation) -> [String] {
        switch location.location {
        case .sqlite(let directory): return ["--data-dir", directory]
        case .postgres(let url):
            return [
                "--database", url, "--data-dir",
                Self.scratchDirectories.withLock { directories in
                    let directory = NSTemporaryDirectory() + "tollgate-pg-keys-\(UUID().uuidString)"
                    directories[url] = directories[url] ?? directory
                    return directories[url]!
                },
            ]
        }
    }

    static let scratchDirectories = Mutex<[String: String]>([:])

    func writeTemporary(_ text: String, name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func catalogCheckReportsEveryErrorAndServeRefusesTheSameCatalog() async throws {
        let good = try await TollgateBinary.run(["catalog", "check", Repository.path("catalogs/memento.yaml")])
        #expect(good.status == 0 && good.stdout.contains("ok — 4 plans"))
        let broken = try writeTemporary(
            """
            product: x
            defaultPlan: free
            features: { notes: { type: limit } }
            plans:
              - { id: free, order: 0, features: { notes: -1, ghost: 2 }, prices: [{ amount: 5 }] }
            """, name: "broken.yaml")
        let check = try await TollgateBinary.run(["catalog", "check", broken])
        #expect(check.status == 1)
        for path in ["plans[0].features.notes", "plans[0].features.ghost", "plans[0].prices[0].currency"] {
            #expect(check.stderr.contains(path), "\(path) in \(check.stderr)")
        }
        let serve = try await TollgateBinary.run([
            "serve", "--port", "0", "--data-dir", NSTemporaryDirectory() + UUID().uuidString, "--catalog", broken,
        ])
        #expect(serve.status == 1 && serve.stderr.contains("plans[0].features.ghost"))
    }

    @Test(arguments: TestDatabase.all)
    func subcommandsMigrateAFreshDatabaseAndKeysCreatePrintsOnlyTheKey(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let created = try await TollgateBinary.run(
                ["keys", "create", "--scope", "admin", "--scope", "usage:write"] + databaseArguments(location))
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.wholeMatch(of: /tg_sk_[0-9a-f]{48}\n/) != nil, "stdout was \(created.stdout)")
            let migrate = try await TollgateBinary.run(["migrate"] + databaseArguments(location))
            #expect(migrate.status == 0 && migrate.stdout.contains("schema at version \(Migrator.latestVersion)"))
            let badScope = try await TollgateBinary.run(
                ["keys", "create", "--scope", "root"] + databaseArguments(location))
            #expect(badScope.status != 0 && badScope.stderr.contains("unknown scope root"))
            // The manual provider's plan change, from the command line.
            let store = try await SQLStore.open(location.location, logger: TestDatabase.logger)
            _ = try await store.createCustomer(
                CustomerRecord(
                    id: "u1", email: nil, name: nil, planId: "basic", billingAnchor: Date(), createdAt: Date(),
                    updatedAt: Date()))
            await store.shutdown()
            let moved = try await TollgateBinary.run(
                ["customers", "set-plan", "u1", "business"] + databaseArguments(location))
            #expect(moved.status == 0 && moved.stdout == "u1 is on plan business\n", "\(moved.stderr)")
            #expect(
                try await TollgateBinary.run(["customers", "set-plan", "u1", "gold"] + databaseArguments(location))
                    .stderr
                    .contains("no plan gold"))
            #expect(
                try await TollgateBinary.run(["customers", "set-plan", "ghost", "pro"] + databaseArguments(location))
                    .status
                    == 1)
            let reopened = try await SQLStore.open(location.location, logger: TestDatabase.logger)
            #expect(try await reopened.customer(id: "u1")?.planId == "business")
            await reopened.shutdown()
        }
    }

    @Test func rotateSigningPublishesANewKeyBesideTheOldOne() async throws {
        let data = NSTemporaryDirectory() + "tollgate-rotate-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try await ServerProcess.start(["--data-dir", data])
        defer { server.stop() }
        func kids() async throws -> [String] {
            let (_, body) = try await server.request("GET", ".well-known/jwks.json", key: "")
            let keys = (try JSONSerialization.jsonObject(with: body) as? [String: [[String: String]]])?["keys"] ?? []
            return keys.compactMap { $0["kid"] }
        }
        let before = try await kids()
        #expect(before.count == 1)
        let rotated = try await TollgateBinary.run(["keys", "rotate-signing", "--data-dir", data])
        let kid = rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(rotated.status == 0 && kid.hasPrefix("k_"))
        // The running server reloads the database's keys every five seconds: both are published,
        // newest first, without a restart (the loop ends as soon as they are).
        let deadline = ContinuousClock.now + .seconds(20)
        var published = try await kids()
        while published != [kid] + before, ContinuousClock.now < deadline { published = try await kids() }
        #expect(published == [kid] + before)
        // A new master key: every sealed secret sealed again; a server started on it opens them.
        server.stop()
        let rotatedMaster = try await TollgateBinary.run(["keys", "rotate-master", "--data-dir", data])
        #expect(rotatedMaster.status == 0 && rotatedMaster.stdout.contains("sealed"), "\(rotatedMaster)")
        let next = try await ServerProcess.start(["--data-dir", data])
        defer { next.stop() }
        let (_, body) = try await next.request("GET", ".well-known/jwks.json", key: "")
        let keys = (try JSONSerialization.jsonObject(with: body) as? [String: [[String: String]]])?["keys"] ?? []
        #expect(keys.compactMap { $0["kid"] } == [kid] + before)
        let verified = try await TollgateBinary.run(["audit", "verify", "--data-dir", data])
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified)")
    }

    /// Consumes run from 16 concurrent clients; the server is SIGKILLed mid-stream and restarted.
    /// Every acknowledged consume must be counted, and retrying every attempted key must replay
    /// acknowledged answers byte for byte and count each key exactly once.
    @Test(arguments: TestDatabase.all)
    func acknowledgedConsumesSurviveSIGKILL(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let arguments =
                databaseArguments(location) + [
                    "--catalog", try writeTemporary(Fixtures.catalogYAML, name: "catalog.yaml"),
                ]
            let key = try await TollgateBinary.run(
                ["keys", "create", "--scope", "admin"] + databaseArguments(location)
            )
            .stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
            let first = try await ServerProcess.start(arguments)
            #expect(try await first.request("POST", "v1/customers", key: key, json: #"{"id":"u1"}"#).status == 201)
            #expect(
                try await first.request("PUT", "v1/customers/u1/plan", key: key, json: #"{"plan":"scale"}"#).status
                    == 200)

            let load = LoadRecord()
            let killAfter = 300
            await withTaskGroup(of: Void.self) { group in
                // Four clients send batches of ten through /v1/events (one commit for the batch).
                for worker in 0..<4 {
                    group.addTask {
                        for index in 0..<1_000 where !load.killed.load(ordering: .relaxed) {
                            let eventKeys = (0..<10).map { "e\(worker)-\(index)-\($0)" }
                            load.attempted.withLock { $0 += eventKeys }
                            let events = eventKeys.map {
                                #"{"customer":"u1","feature":"searches","idempotencyKey":"\#($0)"}"#
                            }
                            guard
                                let (status, data) = try? await first.request(
                                    "POST", "v1/events", key: key,
                                    json: #"{"events":[\#(events.joined(separator: ","))]}"#),
                                status == 200,
                                let results = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?[
                                    "results"] as? [[String: Any]],
                                results.count == eventKeys.count
                            else { continue }
                            load.acknowledged.withLock { acknowledged in
                                for (eventKey, result) in zip(eventKeys, results)
                                where result["allowed"] as? Bool == true {
                                    acknowledged[eventKey] = try? JSONSerialization.data(
                                        withJSONObject: result, options: .sortedKeys)
                                }
                            }
                        }
                    }
                }
                for worker in 0..<12 {
                    group.addTask {
                        for index in 0..<5_000 where !load.killed.load(ordering: .relaxed) {
                            let idempotencyKey = "w\(worker)-\(index)"
                            load.attempted.withLock { $0.append(idempotencyKey) }
                            let body = #"{"customer":"u1","feature":"searches","idempotencyKey":"\#(idempotencyKey)"}"#
                            guard
                                let (status, data) = try? await first.request(
                                    "POST", "v1/consume", key: key, json: body)
                            else { return }
                            guard status == 200 else { continue }
                            let count = load.acknowledged.withLock {
                                $0[idempotencyKey] = data; return $0.count
                            }
                            if count >= killAfter,
                                load.killed.compareExchange(expected: false, desired: true, ordering: .relaxed)
                                    .exchanged
                            {
                                first.kill()
                            }
                        }
                    }
                }
            }
            let wasKilled = load.killed.load(ordering: .relaxed)
            #expect(wasKilled, "the server was never killed")
            let acked = load.acknowledged.withLock { $0 }
            let keys = load.attempted.withLock { $0 }
            #expect(acked.count >= killAfter)
            #expect(acked.keys.contains { $0.hasPrefix("e") }, "no event batch was acknowledged before the kill")

            let second = try await ServerProcess.start(arguments)
            defer { second.stop() }
            func used() async throws -> Int? {
                let (_, data) = try await second.request("GET", "v1/customers/u1/entitlements", key: key)
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                let features = object?["features"] as? [[String: Any]]
                return features?.first { $0["feature"] as? String == "searches" }?["used"] as? Int
            }
            let afterRestart = try #require(try await used())
            #expect(afterRestart >= acked.count, "acknowledged \(acked.count), counted \(afterRestart) after SIGKILL")
            #expect(afterRestart <= keys.count)
            for idempotencyKey in keys {
                let body = #"{"customer":"u1","feature":"searches","idempotencyKey":"\#(idempotencyKey)"}"#
                let (status, data) = try await second.request("POST", "v1/consume", key: key, json: body)
                #expect(status == 200, "\(idempotencyKey)")
                if let original = acked[idempotencyKey] {
                    if idempotencyKey.hasPrefix("e") {
                        // An event's answer was one element of its batch's response: compare as JSON.
                        let replayed = try JSONSerialization.data(
                            withJSONObject: try JSONSerialization.jsonObject(with: data), options: .sortedKeys)
                        #expect(replayed == original, "replay of event \(idempotencyKey) differs")
                    } else {
                        #expect(data == original, "replay of \(idempotencyKey) differs")
                    }
                }
            }
            #expect(try await used() == keys.count)
        }
    }
}

/// What a load run sent and what was acknowledged, shared by its concurrent clients.
final class LoadRecord: Sendable {
    let attempted = Mutex<[String]>([])
    let acknowledged = Mutex<[String: Data]>([:])
    let killed = Atomic<Bool>(false)
}
