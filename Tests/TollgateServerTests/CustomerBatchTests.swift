import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing
import TollgateStorage

@testable import TollgateServer

/// `POST /v1/customers/batch` and `tollgate customers import`: each row answered on its own,
/// the valid ones committed, each created customer audited and announced.
@Suite struct CustomerBatchTests {
    @Test(arguments: TestDatabase.all)
    func eachRowIsAnsweredOnItsOwnAndTheValidOnesAreCommitted(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            try await client.call(
                .post, "/v1/customers", key: app.adminKey, json: #"{"id":"old","email":"old@example.com"}"#)
            let rows = [
                #"{"id":"n1","email":"Ada@Example.com","name":"Ada"}"#,
                #"{"id":"old","email":"old@example.com"}"#,
                #"{"id":"old","email":"other@example.com"}"#,
                #"{"id":"n2","email":"not an address"}"#,
                #"{"id":"n3","plan":"nope"}"#,
                #"{"id":"n4","plan":"pro","locale":"fr"}"#,
                #"{"id":"n1","email":"ada@example.com","name":"Ada"}"#,
                #"{"id":"n5","locale":"de"}"#,
            ]
            let answer = try await client.call(
                .post, "/v1/customers/batch", key: app.adminKey,
                json: #"{"customers":[\#(rows.joined(separator: ","))]}"#)
            #expect(answer.status == .ok, "\(answer.json)")
            let results = try #require(answer.json["results"] as? [[String: Any]])
            #expect(results.map { $0["id"] as? String } == ["n1", "old", "old", "n2", "n3", "n4", "n1", "n5"])
            #expect(results.map { $0["status"] as? Int } == [201, 200, 409, 400, 404, 201, 200, 400])
            #expect(
                results.map { ($0["error"] as? [String: Any])?["field"] as? String } == [
                    nil, nil, "id", "email", "plan", nil, nil, "locale",
                ])
            #expect(try await app.store.customer(id: "n1")?.email == "ada@example.com")
            #expect(try await app.store.customer(id: "n4")?.planId == "pro")
            #expect(try await app.store.customer(id: "n2") == nil)
            #expect(try await app.store.customer(id: "n5") == nil)

            let audit = try await client.call(.get, "/v1/audit-events?action=customer.created", key: app.adminKey)
            let targets = (audit.json["data"] as? [[String: Any]])?.compactMap { $0["target"] as? String }
            #expect(targets?.sorted() == ["customer:n1", "customer:n4", "customer:old"], "one entry per creation")
            let told = try await app.store.outboxEntries(failedOnly: false, limit: 100).filter {
                $0.message.kind == "event.customer.created"
            }.map(\.message.recipient).sorted()
            #expect(told == ["customer:n1", "customer:n4", "customer:old"], "each creation announced once")

            let none = try await client.call(
                .post, "/v1/customers/batch", key: app.adminKey, json: #"{"customers":[]}"#)
            #expect(none.status == .badRequest && none.json.errorField == "customers")
        }
    }

    /// The largest batch (10,000 rows, beyond the 1 MiB other bodies are held to) in one request.
    @Test func tenThousandRowsGoInOneRequest() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let rows = (0..<10_000).map {
                #"{"id":"bulk_customer_\#($0)","email":"customer\#($0)@example.com","#
                    + #""name":"Customer number \#($0), from the old system"}"#
            }
            let body = #"{"customers":[\#(rows.joined(separator: ","))]}"#
            #expect(body.utf8.count > 1 << 20)
            let answer = try await client.call(.post, "/v1/customers/batch", key: app.adminKey, json: body)
            #expect(answer.status == .ok, "\(answer.json)")
            #expect((answer.json["results"] as? [[String: Any]])?.allSatisfy { $0["status"] as? Int == 201 } == true)
            #expect(try await app.store.customer(id: "bulk_customer_9999") != nil)
            let more = try await client.call(
                .post, "/v1/customers/batch", key: app.adminKey,
                json: #"{"customers":[\#((rows + [#"{"id":"x"}"#]).joined(separator: ","))]}"#)
            #expect(more.status == .badRequest && more.json.errorField == "customers")
        }
    }

    @Test(arguments: TestDatabase.all)
    func theImportCommandReadsCSVAndJSONLinesThroughTheSamePath(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let arguments = location.commandArguments()
            let catalog = ["--catalog", Repository.path("catalogs/memento.yaml")]
            let directory = NSTemporaryDirectory() + "tollgate-import-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let csv = directory + "/customers.csv"
            try "\u{FEFF}id,email,name,plan\r\nc1,c1@example.com,\"Doe, Jane\",\nc2,,,pro\nc3,bad address,,\n".write(
                toFile: csv, atomically: true, encoding: .utf8)
            let first = try await TollgateBinary.run(["customers", "import", csv] + catalog + arguments)
            #expect(first.status == 1, "a refused row fails the command")
            #expect(first.stdout == "2 created, 0 already there, 1 refused\n", "\(first.stderr)")
            #expect(first.stderr.contains("line 4 c3: email:"), "\(first.stderr)")

            let jsonl = directory + "/customers.jsonl"
            try """
            {"id":"c1","email":"c1@example.com","name":"Doe, Jane"}
            {"id":"c4","locale":"fr"}

            """.write(toFile: jsonl, atomically: true, encoding: .utf8)
            let second = try await TollgateBinary.run(["customers", "import", jsonl] + catalog + arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout == "1 created, 1 already there, 0 refused\n")

            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin"] + arguments).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            defer { server.kill() }
            let body = String(
                decoding: try await server.request("GET", "v1/customers/c2", key: key).body, as: UTF8.self)
            #expect(body.contains(#""plan":"pro""#), "\(body)")
        }
    }
}
