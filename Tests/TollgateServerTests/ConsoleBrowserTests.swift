import Foundation
import TestSupport
import Testing
import TollgateStorage

/// The console as an operator uses it: in headless Chromium (chromedriver, selenium), against
/// `tollgate serve`, with the accounts made by the CLI and the data made through the API
/// (`Tests/peers/console_browser.py` drives the browser and says what it checked).
@Suite struct ConsoleBrowserTests {
    @Test(arguments: TestDatabase.all)
    func anOperatorSetsUpSignsInFindsACustomerAndActs(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let keys = NSTemporaryDirectory() + "tollgate-console-\(UUID().uuidString)"
            let arguments: [String]
            switch location.location {
            case .sqlite(let directory): arguments = ["--data-dir", directory]
            case .postgres(let url): arguments = ["--database", url, "--data-dir", keys]
            }
            let key = try await TollgateBinary.run(
                ["keys", "create", "--scope", "admin", "--name", "Product backend"] + arguments
            ).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            defer { server.stop() }
            let base = server.baseURL.absoluteString
            func operatorLink(_ email: String, role: String) async throws -> String {
                let created = try await TollgateBinary.run(
                    ["operators", "create", "--email", email, "--role", role, "--url", base] + arguments)
                #expect(created.status == 0, "\(created.stderr)")
                // The link and nothing else.
                #expect(
                    created.stdout.wholeMatch(of: /http:\/\/[^\s]+\/console\/setup\?token=tg_setup_[A-Za-z0-9_-]+\n/)
                        != nil)
                return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let ownerLink = try await operatorLink("owner@example.com", role: "owner")
            let viewerLink = try await operatorLink("viewer@example.com", role: "viewer")
            // Markup, and markup hidden in grapheme clusters (a prepended mark before `<`, a
            // combining one after `"`), which an escaper comparing Characters lets through.
            let evilName = "\u{600}<img src=x onerror=alert(1)>\"\u{301}><img src=y onerror=alert(2)>"
            #expect(
                try await server.request(
                    "POST", "v1/customers", key: key, json: #"{"id":"ada","email":"ada@example.com","name":"Ada L."}"#
                ).status == 201)
            let evilJSON = String(decoding: try JSONEncoder().encode(["id": "evil", "name": evilName]), as: UTF8.self)
            #expect(try await server.request("POST", "v1/customers", key: key, json: evilJSON).status == 201)
            for index in 1...3 {
                let consumed = try await server.request(
                    "POST", "v1/consume", key: key,
                    json: #"{"customer":"ada","feature":"semantic_search","idempotencyKey":"c\#(index)"}"#)
                #expect(consumed.status == 200)
            }
            // A few paying customers and a trial, so the overview has figures to show.
            for (index, plan) in ["pro", "pro", "business", "pro"].enumerated() {
                let id = "payer\(index)"
                #expect(
                    try await server.request(
                        "POST", "v1/customers", key: key,
                        json: #"{"id":"\#(id)","email":"\#(id)@example.com","name":"Payer \#(index)"}"#
                    ).status == 201)
                let subscribed = try await server.request(
                    "POST", "v1/billing/subscriptions", key: key,
                    json: #"{"customer":"\#(id)","plan":"\#(plan)","idempotencyKey":"s\#(index)"}"#)
                #expect(subscribed.status == 201, "\(String(decoding: subscribed.body, as: UTF8.self))")
            }
            #expect(
                try await server.request("POST", "v1/customers", key: key, json: #"{"id":"trier","name":"Trier"}"#)
                    .status == 201)
            let trial = try await server.request(
                "POST", "v1/billing/trial", key: key, json: #"{"customer":"trier","plan":"pro"}"#)
            #expect(trial.status == 201, "\(String(decoding: trial.body, as: UTF8.self))")
            let config: [String: Any] = [
                "base": base, "ownerSetup": ownerLink, "viewerSetup": viewerLink, "ownerEmail": "owner@example.com",
                "key": key, "customer": "ada", "feature": "semantic_search", "used": 3, "limit": 30, "newPlan": "pro",
                "evilCustomer": "evil", "evilName": evilName, "mrr": "59.60 EUR",
                "screenshots": Repository.path(".build/screenshots/\(database)"),
            ]
            let configPath = keys + "-browser.json"
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
            let run = try await TollgateBinary.runProgram(
                try PythonPeers.interpreter, [Repository.path("Tests/peers/console_browser.py"), configPath])
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("all console checks passed"), "\(run.stdout)")
        }
    }
}
