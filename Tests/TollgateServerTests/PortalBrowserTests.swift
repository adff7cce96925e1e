import Foundation
import TestSupport
import Testing
import TollgateStorage

/// The customer portal as end users use it: in headless Chromium (chromedriver, selenium),
/// against `tollgate serve` with the demo catalog, its e-mails read from the mail directory
/// (`Tests/peers/portal_browser.py` drives two browsers and says what it checked).
@Suite struct PortalBrowserTests {
    @Test(arguments: TestDatabase.all)
    func endUsersSignUpMeterUpgradeSecureAndShareAWorkspace(database: TestDatabase) async throws {
        try await database.withLocation { location in
            let data = NSTemporaryDirectory() + "tollgate-portal-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: data) }
            let arguments: [String]
            switch location.location {
            case .sqlite(let directory): arguments = ["--data-dir", directory]
            case .postgres(let url): arguments = ["--database", url, "--data-dir", data]
            }
            let mail: String
            switch location.location {
            case .sqlite(let directory): mail = directory + "/mail"
            case .postgres: mail = data + "/mail"
            }
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin"] + arguments).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            defer { server.stop() }
            let config: [String: Any] = [
                "base": server.baseURL.absoluteString, "key": key, "mail": mail,
                "screenshots": Repository.path(".build/screenshots/portal-\(database)"),
            ]
            let configPath = data + "-browser.json"
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
            defer { try? FileManager.default.removeItem(atPath: configPath) }
            let run = try await TollgateBinary.runProgram(
                try PythonPeers.interpreter, [Repository.path("Tests/peers/portal_browser.py"), configPath])
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("all portal checks passed"), "\(run.stdout)")
        }
    }
}
