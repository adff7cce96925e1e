import Foundation
import Logging
import SQLKit
import Synchronization
import Testing
import TollgateSQL
import TollgateStorage

/// The databases every contract test runs against. PostgreSQL runs when
/// `TOLLGATE_TEST_POSTGRES_URL` names a server; without one each PostgreSQL case is reported as
/// skipped (cancelled, with the reason), and under CI it must be there, so a missing server fails
/// the run instead of skipping half of the suite.
public enum TestDatabase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    public var testDescription: String { rawValue }

    public static var all: [TestDatabase] { allCases }

    /// Whether the PostgreSQL cases run (a server is named, or CI demands one); a test that needs
    /// PostgreSQL alone is skipped, visibly, without it.
    public static var postgresConfigured: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["TOLLGATE_TEST_POSTGRES_URL"] != nil || environment["CI"] == "true"
    }

    private static let skipNotice = Mutex(false)

    static var postgresAdminURL: String {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            guard let url = environment["TOLLGATE_TEST_POSTGRES_URL"] else {
                guard environment["CI"] == "true" else {
                    // Swift Testing's console reporter does not print a cancelled case: say it once.
                    if skipNotice.withLock({ told in
                        defer { told = true }; return !told
                    }) {
                        FileHandle.standardError.write(
                            Data("note: the PostgreSQL cases are skipped: TOLLGATE_TEST_POSTGRES_URL is not set\n".utf8)
                        )
                    }
                    try Test.cancel(
                        "PostgreSQL skipped: TOLLGATE_TEST_POSTGRES_URL is not set (scripts/test.sh starts one)")
                }
                throw TestSupportError(
                    "TOLLGATE_TEST_POSTGRES_URL is not set: start PostgreSQL (see .ci/run) or unset CI")
            }
            return url
        }
    }

    public static let logger: Logger = {
        var logger = Logger(label: "tollgate-test")
        logger.logLevel = .warning
        return logger
    }()

    /// A fresh, migrated, empty database of this kind, and the location it lives at.
    public func makeLocation() async throws -> TestDatabaseLocation {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("tollgate-test-\(UUID().uuidString)").path
            return TestDatabaseLocation(
                location: .sqlite(directory: directory),
                cleanup: {
                    try? FileManager.default.removeItem(atPath: directory)
                })
        case .postgres:
            let adminURL = try Self.postgresAdminURL
            let name = "tg_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
            try await Self.adminQuery(adminURL, "CREATE DATABASE \(name)")
            var components = URLComponents(string: adminURL)!
            components.path = "/\(name)"
            return TestDatabaseLocation(
                location: .postgres(url: components.string!),
                cleanup: {
                    try? await Self.adminQuery(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                })
        }
    }

    private static func adminQuery(_ url: String, _ sql: String) async throws {
        let provider = try PostgresProvider(url: url, maximumConnections: 1, logger: logger)
        do {
            try await provider.read { db in try await db.raw(SQLQueryString(sql)).run() }
            await provider.shutdown()
        } catch {
            await provider.shutdown()
            throw error
        }
    }

    /// Runs `body` with a fresh, empty database, then removes it (also when `body` throws).
    public func withLocation<T>(_ body: (TestDatabaseLocation) async throws -> T) async throws -> T {
        let location = try await makeLocation()
        do {
            let result = try await body(location)
            await location.cleanup()
            return result
        } catch {
            await location.cleanup()
            throw error
        }
    }

    /// Runs `body` with a fresh migrated store, then removes the database.
    public func withStore<T>(_ body: (SQLStore, TestDatabaseLocation) async throws -> T) async throws -> T {
        let location = try await makeLocation()
        let store = try await SQLStore.open(location.location, logger: Self.logger)
        do {
            let result = try await body(store, location)
            await store.shutdown()
            await location.cleanup()
            return result
        } catch {
            await store.shutdown()
            await location.cleanup()
            throw error
        }
    }
}

public struct TestDatabaseLocation: Sendable {
    public let location: DatabaseLocation
    public let cleanup: @Sendable () async -> Void
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The repository's root, for tests that read `catalogs/` or `openapi.yaml`.
public enum Repository {
    public static func root(file: StaticString = #filePath) -> URL {
        var url = URL(fileURLWithPath: "\(file)")
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(file)")
    }

    public static func path(_ relative: String) -> String {
        root().appendingPathComponent(relative).path
    }
}

/// The Python interpreter of the test peers' venv (`scripts/test.sh` makes it).
public enum PythonPeers {
    public static var interpreter: String {
        get throws {
            let path =
                ProcessInfo.processInfo.environment["TOLLGATE_TEST_PYTHON"] ?? Repository.path(".venv/bin/python")
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestSupportError("no Python test peer at \(path): run scripts/test.sh, which makes the venv")
            }
            return path
        }
    }
}

extension TestDatabaseLocation {
    /// `tollgate` arguments naming this database: its data directory (SQLite), or its URL and a
    /// fresh data directory for the keys (PostgreSQL). The same array for every command of a test
    /// names the same data directory, so they share the master key.
    public func commandArguments() -> [String] {
        switch location {
        case .sqlite(let directory): return ["--data-dir", directory]
        case .postgres(let url):
            return ["--database", url, "--data-dir", NSTemporaryDirectory() + "tollgate-cli-\(UUID().uuidString)"]
        }
    }
}
