import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization
import TollgateCore

/// Tollgate's metrics, in Prometheus' text format on a port of their own (`serve --metrics-port`,
/// loopback by default), every name prefixed `tollgate_`: requests per route
/// (rate and latency), consumes allowed and refused by reason, group commits (entries per batch,
/// latency, failures), outbox deliveries and failures by kind and the outbox's depth, cache sizes
/// and hit rates, leases held.
public final class TollgateMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Read when scraped: gauges of things that are not events (depths, sizes).
    private let collectors = Mutex<[@Sendable () async throws -> Void]>([])
    /// The last value seen of each count read from elsewhere, to add only the difference.
    private let lastCounts = Mutex<[String: Int]>([:])

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]

    public init() {}

    func request(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "tollgate_http_requests_total",
            labels: [("method", method), ("route", route), ("status", "\(status)")]
        ).increment()
        registry.makeDurationHistogram(
            name: "tollgate_http_request_duration_seconds", labels: [("method", method), ("route", route)],
            buckets: Self.latencyBuckets
        ).record(duration)
    }

    func consume(allowed: Bool, reason: String?) {
        registry.makeCounter(
            name: "tollgate_consumes_total",
            labels: [("outcome", allowed ? "allowed" : "refused"), ("reason", reason ?? "")]
        ).increment()
    }

    /// What the engine reports (group commits, outbox deliveries) recorded here.
    public var instruments: Instruments {
        var instruments = Instruments()
        instruments.groupCommit = { [registry] entries, duration, failed in
            registry.makeValueHistogram(name: "tollgate_group_commit_entries", buckets: Self.batchBuckets)
                .record(Double(entries))
            registry.makeDurationHistogram(
                name: "tollgate_group_commit_duration_seconds", buckets: Self.latencyBuckets
            ).record(duration)
            if failed { registry.makeCounter(name: "tollgate_group_commit_failures_total").increment() }
        }
        instruments.outboxDelivery = { [registry] family, delivered in
            registry.makeCounter(
                name: "tollgate_outbox_deliveries_total",
                labels: [("kind", family), ("outcome", delivered ? "delivered" : "failed")]
            ).increment()
        }
        return instruments
    }

    /// Runs `collect` before each scrape (it sets gauges).
    func addCollector(_ collect: @escaping @Sendable () async throws -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    func gauge(_ name: String, _ value: Int, labels: [(String, String)] = []) {
        registry.makeGauge(name: name, labels: labels).set(Int64(value))
    }

    /// A count kept elsewhere (a cache's hits) as a counter: the difference since the last scrape.
    func count(_ name: String, _ total: Int, labels: [(String, String)]) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let added = lastCounts.withLock { last -> Int in
            defer { last[key] = total }
            return max(0, total - (last[key] ?? 0))
        }
        registry.makeCounter(name: name, labels: labels).increment(by: Int64(added))
    }

    /// The text Prometheus scrapes.
    public func render() async -> String {
        for collect in collectors.withLock({ $0 }) { try? await collect() }
        return registry.emitToString()
    }
}

/// Counts and times every request by the route it matched (its template, so ids do not make a
/// label each), after the error middleware has turned errors into answers.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: TollgateMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.request(
            method: request.method.rawValue, route: context.endpointPath ?? "NotFound",
            status: Int(response.status.code), duration: .now - started)
        return response
    }
}

/// The metrics' own server: `GET /metrics` on the metrics port, nothing else.
enum MetricsServer {
    static func application(
        _ metrics: TollgateMetrics, host: String, port: Int, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await metrics.render())))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "Tollgate metrics"),
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? port) }, logger: logger)
    }
}
