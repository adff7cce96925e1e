import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SQLKit
import ServiceLifecycle
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateServer
import TollgateStorage

/// Each console page at size — `customers` customers with their revenue history,
/// states and usage — served by the application in this process on a loopback port, beside
/// `GET /health` from the same server in the same run (what any answer costs), with a signed-in
/// operator's cookie.
struct ConsoleBench {
    let store: SQLStore
    let customers: Int
    let events: Int
    let repetitions: Int
    let logger: Logger

    struct Row: Sendable {
        let page: String
        /// Milliseconds per answer, median and slowest.
        let timing: (p50: Double, max: Double)
        let bytes: Int
    }

    /// The pages, and `GET /health` first (the baseline).
    static func pages(customer: String) -> [(String, String)] {
        [
            ("GET /health", "/health"), ("Overview", "/console"), ("Customers", "/console/customers"),
            ("Customers, search", "/console/customers?query=\(customer)"),
            ("Customers, trialing", "/console/customers?status=trialing"),
            ("Customers, near a limit", "/console/customers?nearLimit=true"),
            ("Customers, by e-mail, page 2", "/console/customers?sort=email&limit=50"),
            ("Customer", "/console/customers/\(customer)"), ("Usage", "/console/usage"),
            ("Catalog", "/console/catalog"), ("Deliveries", "/console/deliveries"), ("API keys", "/console/api-keys"),
            ("Operators", "/console/operators"),
        ]
    }

    func run() async throws -> [Row] {
        logger.info("console: \(customers) customers")
        try await AnalyticsBench(store: store, customers: customers, events: events, repetitions: 1, logger: logger)
            .seed()
        try await seedCustomers()
        let token = try await signedInOperator()
        let catalog = try CatalogLoader.load(yaml: try DefaultCatalog.yaml())
        let dependencies = AppDependencies(
            catalog: catalog, store: store, databaseKind: store.provider.kind, clock: SystemClock(), logger: logger,
            signingKeys: SigningKeyRing(keys: [SigningKey.generate(at: Date())]),
            secretBox: SecretBox(keyData: SecretBox.generateKey())!, shutdown: {})
        let address = AsyncStream<String>.makeStream()
        let app = try buildApplication(dependencies, host: "127.0.0.1", port: 0) { url in
            address.continuation.yield(url)
            address.continuation.finish()
        }
        let services = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: [Row]?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            var base: String?
            for await url in address.stream { base = url }
            guard let base else { throw BenchError("the console bench's server did not start") }
            do {
                let rows = try await measure(base: base, cookie: "tg_console=\(token)")
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return rows
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }

    private func measure(base: String, cookie: String) async throws -> [Row] {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            var rows: [Row] = []
            let clock = ContinuousClock()
            for (name, path) in Self.pages(customer: "b\(customers / 2 + 42)") {
                var request = HTTPClientRequest(url: base + path)
                request.headers.add(name: "Cookie", value: cookie)
                var durations: [Double] = []
                var bytes = 0
                // One answer to warm the caches, then the measured ones.
                for index in 0...max(1, repetitions) {
                    let start = clock.now
                    let response = try await client.execute(request, timeout: .seconds(60))
                    let body = try await response.body.collect(upTo: 16 << 20)
                    let elapsed = start.duration(to: clock.now).inSeconds * 1000
                    guard response.status == .ok else {
                        throw BenchError(
                            "\(path) answered \(response.status.code): \(String(buffer: body).prefix(300))")
                    }
                    bytes = body.readableBytes
                    if index > 0 { durations.append(elapsed) }
                }
                durations.sort()
                rows.append(Row(page: name, timing: (durations[durations.count / 2], durations.last!), bytes: bytes))
            }
            try await client.shutdown()
            return rows
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The customers behind the analytics history (`b0…`): plans and statuses as the history left
    /// them, creation times spread over two years, and a tenth at 25 of Basic's 30 lifetime
    /// semantic searches (near the limit).
    private func seedCustomers() async throws {
        let (customers, start) = (customers, Millis.from(AnalyticsBench.start))
        let counter =
            "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < \(customers - 1))"
        let statements = [
            """
            \(counter)
            INSERT INTO customers (id, email, name, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms, status)
            SELECT 'b' || i, 'user' || i || '@example.com', 'Customer ' || i,
                CASE WHEN i % 6 = 0 THEN 'pro' ELSE 'basic' END, \(start) + (i % 700) * 86400000,
                \(start) + (i % 700) * 86400000 + i, \(start) + (i % 700) * 86400000 + i,
                CASE WHEN i % 6 = 0 THEN 'active' WHEN i % 4 = 1 THEN 'trialing' ELSE 'free' END
            FROM n
            """,
            """
            \(counter)
            INSERT INTO usage_counters (subject, feature, period_start_ms, period_end_ms, period, used, updated_at_ms)
            SELECT 'customer:b' || i, 'semantic_search', 0, NULL, 'lifetime', 25, \(start) FROM n
            WHERE i % 10 = 3 AND i % 6 <> 0
            """,
        ]
        try await store.provider.transaction { db in
            for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
        }
        if store.provider.kind == .postgres {
            try await store.provider.read { db in try await db.raw("VACUUM ANALYZE").run() }
        } else {
            try await store.provider.transaction { db in try await db.raw("ANALYZE").run() }
        }
    }

    /// An operator signed in, as the setup page leaves one: the cookie's token.
    private func signedInOperator() async throws -> String {
        let token = "tg_op_bench_" + UUID().uuidString
        let now = Date()
        _ = try await store.createOperator(
            OperatorRecord(
                id: "op_bench", email: "bench@example.com", role: .owner, passwordHash: "unused",
                sealedTOTPSecret: "unused", createdAt: now))
        try await store.createOperatorSession(
            OperatorSessionRecord(
                digest: OpaqueDigest.hex(token), operatorId: "op_bench", csrfToken: "csrf_bench", createdAt: now,
                lastSeenAt: now))
        return token
    }
}
