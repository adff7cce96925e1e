import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationCompat
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

/// Token buckets per secret key, per end user by plan and per address without
/// credentials, from the catalog's `rateLimits`; 429 RATE_LIMITED with Retry-After and the IETF
/// draft's fields; login throttles shared through the database.
@Suite struct RateLimitTests {
    static let catalogYAML = """
        product: limited
        defaultPlan: free
        rateLimits:
          secretKey: { requestsPerMinute: 5 }
          ip: { requestsPerMinute: 3 }
        features:
          notes: { type: limit }
        plans:
          - id: free
            order: 0
            features: { notes: 3 }
            rateLimits: { requestsPerMinute: 4 }
          - id: pro
            order: 1
            prices: [{ currency: EUR, amount: 990 }]
            features: { notes: 100 }
        """

    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, key: String?,
        json: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.send(
            uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    @Test(arguments: TestDatabase.all)
    func eachKindOfCallerHasItsBucket(database: TestDatabase) async throws {
        let catalog = try CatalogLoader.load(yaml: Self.catalogYAML)
        try await AppHarness.run(database, catalog: catalog) { app, client in
            // Five requests a minute for the key: then 429, with how long to wait.
            for remaining in (0..<5).reversed() {
                let answer = try await Self.send(client, .get, "/v1/customers", key: app.adminKey)
                #expect(answer.status == .ok)
                #expect(answer.headers[RateLimitMiddleware.policyField] == #""key";q=5;w=60"#)
                #expect(answer.headers[RateLimitMiddleware.stateField]?.hasPrefix(#""key";r=\#(remaining);t="#) == true)
            }
            let refused = try await Self.send(client, .get, "/v1/customers", key: app.adminKey)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "12")
            #expect(refused.headers[RateLimitMiddleware.stateField] == #""key";r=0;t=60"#)
            let error = try JSONSerialization.jsonObject(with: Data(buffer: refused.body)) as? [String: Any]
            #expect((error?["error"] as? [String: Any])?["code"] as? String == "RATE_LIMITED")
            // Another key has a bucket of its own; the first one's refills with time.
            let other = try await app.key(scopes: [.admin])
            #expect(try await Self.send(client, .get, "/v1/customers", key: other).status == .ok)
            app.clock.advance(by: 12)
            #expect(try await Self.send(client, .get, "/v1/customers", key: app.adminKey).status == .ok)

            // API calls without credentials, three a minute per address; pages and health checks
            // are not counted.
            for _ in 0..<3 {
                let answer = try await Self.send(client, .get, "/v1/catalog", key: nil)
                #expect(answer.status == .ok && answer.headers[RateLimitMiddleware.policyField] == #""ip";q=3;w=60"#)
            }
            #expect(try await Self.send(client, .get, "/v1/catalog", key: nil).status == .tooManyRequests)
            #expect(try await Self.send(client, .get, "/health", key: nil).status == .ok)
            #expect(try await Self.send(client, .get, "/pricing", key: nil).status == .ok)
            app.clock.advance(by: 60)

            // An end user on the free plan: four a minute (their plan's limit, from the token).
            let user = try await AccountTests.signUp(app, client, email: "ada@example.com")
            app.clock.advance(by: 60)
            for _ in 0..<4 { #expect(try await Self.send(client, .get, "/v1/me", key: user.access).status == .ok) }
            let limited = try await Self.send(client, .get, "/v1/me", key: user.access)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[RateLimitMiddleware.policyField] == #""user";q=4;w=60"#)
        }
    }

    /// Failed sign-ins are counted in the database: another node (or this one after a restart)
    /// sees the same lock.
    @Test(arguments: TestDatabase.all)
    func loginThrottlesAreSharedAndSurviveARestart(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Fixtures.utc(2026, 11, 30))
            var settings = AccountSettings(audience: "test")
            settings.passwordPolicy = TestKeys.policy
            func node() -> AccountService {
                AccountService(
                    settings: settings, store: store, keys: TestKeys.ring, box: TestKeys.box, clock: clock,
                    defaultPlan: "free")
            }
            let client = ClientInfo(address: "203.0.113.9", userAgent: nil)
            let first = node()
            _ = try await first.register(email: "ada@example.com", password: AccountTests.password, client: client)
            let rule = settings.accountRule
            for _ in 0..<rule.maximumFailures {
                await #expect(throws: DomainError.self) {
                    _ = try await first.login(email: "ada@example.com", password: "wrong", totp: nil, client: client)
                }
            }
            // A second node — or the first one restarted — refuses even the right password now.
            let second = node()
            do {
                _ = try await second.login(
                    email: "ada@example.com", password: AccountTests.password, totp: nil, client: client)
                Issue.record("the lock did not reach the other node")
            } catch let error as DomainError {
                #expect(error.code == .tooManyAttempts, "\(error)")
            }
            clock.advance(by: rule.window + 1)
            _ = try await second.login(
                email: "ada@example.com", password: AccountTests.password, totp: nil, client: client)
        }
    }

    /// Two `--cluster` nodes share each key's bucket through PostgreSQL: together they let no
    /// more through than the bucket and its refill over the run, and refuse at most the batches
    /// the other node holds unspent (the documented tolerance) early.
    @Test(.enabled(if: TestDatabase.postgresConfigured, "several nodes need PostgreSQL"))
    func twoNodesShareEachKeysBucket() async throws {
        try await TestDatabase.postgres.withLocation { location in
            guard case .postgres(let url) = location.location else { throw TestSupportError("needs PostgreSQL") }
            let limit = 60
            let catalogPath = NSTemporaryDirectory() + "limits-\(UUID().uuidString).yaml"
            try """
            product: limited
            defaultPlan: free
            rateLimits:
              secretKey: { requestsPerMinute: \(limit) }
            features:
              notes: { type: limit }
            plans:
              - id: free
                order: 0
                features: { notes: 3 }
            """.write(toFile: catalogPath, atomically: true, encoding: .utf8)
            let masterKey = SecretBox.generateKey().base64EncodedString()
            func node() async throws -> ServerProcess {
                try await ServerProcess.start(
                    [
                        "--database", url, "--data-dir", NSTemporaryDirectory() + "tollgate-node-\(UUID().uuidString)",
                        "--catalog", catalogPath, "--cluster",
                    ], environment: ["TOLLGATE_MASTER_KEY": masterKey])
            }
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--database", url]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let nodes = [try await node(), try await node()]
            defer { nodes.forEach { $0.stop() } }
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var seen: [Int] = []
                        for attempt in 0..<12 {
                            let server = nodes[(worker + attempt) % 2]
                            seen.append(try await server.request("GET", "v1/customers", key: key).status)
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let elapsed = ContinuousClock.now - started
            let accepted = statuses.filter { $0 == 200 }.count
            #expect(Set(statuses).isSubset(of: [200, 429]), "\(Set(statuses))")
            // A token a second refills while the 96 requests run.
            let refilled = Int(elapsed.components.seconds) + 1
            #expect(accepted <= limit + refilled, "\(accepted) accepted in \(elapsed)")
            let batch = Int(RateLimiter.batch(RateLimit(requestsPerMinute: Int64(limit))))
            #expect(accepted >= limit - batch, "\(accepted) accepted: more refused than the tolerance")
        }
    }
}
