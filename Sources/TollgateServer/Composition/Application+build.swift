import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateRuntime
import TollgateSQL
import TollgateStorage
import UnixSignals

/// Opens the database (applying migrations) and builds the server described by `configuration`.
public func buildApplication(
    _ configuration: ServerConfiguration,
    onServerRunning: @escaping @Sendable (String) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    var configuration = configuration
    if configuration.port == 0 {
        // E-mail links, setup links and Stripe's return addresses name this server's address,
        // built before it listens: a port the system chose at bind time would be known too late.
        // So a free one is chosen first (taken meanwhile by another process, startup fails with
        // "address in use" rather than hand out wrong links).
        configuration.port = try await FreePort.pick(host: configuration.host)
    }
    var logger = Logger(label: "tollgate")
    logger.logLevel = configuration.logLevel
    let catalog = try DefaultCatalog.load(path: configuration.catalogPath)
    if configuration.cluster != nil, case .sqlite = configuration.database {
        throw StoreError.invalidConfiguration(
            "several nodes share a PostgreSQL database (--database postgres://…), not an embedded SQLite one")
    }
    let keyDirectory = KeyDirectory(dataDirectory: configuration.dataDirectory)
    let clock = SystemClock()
    let store = try await SQLStore.open(configuration.database, logger: logger)
    let secretBox: SecretBox
    let vault: SigningKeyVault
    let signingKeys: SigningKeyRing
    do {
        // A master-key rotation a crash interrupted is finished or undone before the key is read.
        try await MasterKeyRotation.settle(directory: keyDirectory, store: store)
        secretBox = try keyDirectory.secretBox()
        vault = SigningKeyVault(store: store, box: secretBox)
        signingKeys = SigningKeyRing(keys: try await vault.keysMakingFirst(now: clock.now(), importing: keyDirectory))
        // Data written under another catalog keeps its meaning only if this one has what it names.
        let issues = CatalogCompatibility.issues(try await store.catalogReferences(), catalog: catalog)
        guard issues.isEmpty else { throw CatalogMismatchError(issues: issues) }
        // Subscriptions from before revenue movements were recorded: their MRR, once.
        let backfilled = try await store.backfillRevenueMovements { Revenue.mrr(of: $0, catalog: catalog) }
        if backfilled > 0 { logger.info("recorded the MRR of \(backfilled) earlier subscriptions as new revenue") }
    } catch {
        await store.shutdown()
        throw error
    }
    var dependencies = AppDependencies(
        catalog: catalog, store: store, databaseKind: store.provider.kind, clock: clock, logger: logger,
        signingKeys: signingKeys, secretBox: secretBox, stripeWebhookSecrets: configuration.stripeWebhookSecrets,
        stripe: configuration.stripeSecretKey.map {
            StripeClient(secretKey: $0, baseURL: configuration.stripeAPIBase)
        },
        shutdown: { await store.shutdown() }
    )
    dependencies.signingKeyVault = vault
    dependencies.subscriptionPolicy = SubscriptionPolicy(gracePeriod: configuration.pastDueGrace)
    dependencies.billingTick = configuration.billingTick
    dependencies.cluster = configuration.cluster
    dependencies.idempotencyRetention = configuration.idempotencyRetention
    dependencies.auditRetention = configuration.auditRetention
    dependencies.caches = configuration.caches
    dependencies.webhooks.policy = WebhookURLPolicy(allowPrivate: configuration.allowPrivateWebhookURLs)
    dependencies.webhooks.operatorEmail = configuration.operatorEmail
    dependencies.invoicing = configuration.invoicing
    let mailDirectory =
        configuration.mailDirectory ?? (configuration.dataDirectory as NSString).appendingPathComponent("mail")
    let transport: any MailTransport =
        try configuration.smtp.map { try SMTPTransport(configuration: $0) }
        ?? FileMailbox(directory: URL(fileURLWithPath: mailDirectory))
    let ownAddress = URL(string: "\(configuration.http.scheme)://\(configuration.host):\(configuration.port)")!
    var mailSettings = MailSettings(
        productName: catalog.name, from: configuration.mailFrom ?? "\(catalog.name) <no-reply@localhost>",
        linkBase: configuration.publicURL ?? ownAddress.appendingPathComponent("portal"), catalog: catalog)
    mailSettings.apiBase = configuration.publicAPIURL ?? ownAddress
    dependencies.mail = try MailConfiguration(transport: transport, settings: mailSettings)
    dependencies.mail?.delivery.lease = configuration.mailLease
    dependencies.consoleBaseURL = (configuration.publicURL ?? ownAddress).absoluteString
    dependencies.embedOrigins = configuration.embedOrigins
    dependencies.salesContact =
        configuration.salesContact ?? configuration.operatorEmail.map { "mailto:" + $0 }
    dependencies.http = configuration.http
    if let address = configuration.metricsAddress {
        dependencies.metrics = TollgateMetrics()
        dependencies.metricsAddress = address
        dependencies.onMetricsRunning = configuration.onMetricsRunning
    }
    return try buildApplication(
        dependencies, host: configuration.host, port: configuration.port, onServerRunning: onServerRunning)
}

public func buildApplication(
    _ dependencies: AppDependencies, host: String = "127.0.0.1", port: Int = 8080,
    onServerRunning: @escaping @Sendable (String) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    try buildApplication(
        dependencies, meter: makeMeter(dependencies), host: host, port: port, onServerRunning: onServerRunning)
}

/// The application around a meter made by the caller (tests keep it, to move time with the
/// scheduler the server would run: `makeBilling` on the same meter).
func buildApplication(
    _ dependencies: AppDependencies, meter: (Meter, GroupCommitter), host: String = "127.0.0.1", port: Int = 8080,
    onServerRunning: @escaping @Sendable (String) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let (service, committer) = meter
    // Built once: the router, the background services below and the tests share these.
    let services = Services(dependencies, meter: service)
    let (invoices, subscriptions) = (services.invoices, services.subscriptions)
    let router = buildRouter(dependencies, services)
    let scheme = dependencies.http.scheme
    var app = Application(
        router: router,
        server: try dependencies.http.serverBuilder(),
        configuration: .init(address: .hostname(host, port: port), serverName: "Tollgate"),
        onServerRunning: { channel in
            await onServerRunning("\(scheme)://\(host):\(channel.localAddress?.port ?? port)")
        },
        logger: dependencies.logger
    )
    // Services stop in reverse order: the server first, then the committer drains, then the database closes.
    app.addServices(
        ShutdownService(action: dependencies.shutdown), committer,
        SubscriptionScheduler(
            subscriptions: subscriptions, logger: dependencies.logger, interval: dependencies.billingTick),
        CustomerChangeListener(feed: dependencies.store, service: service, logger: dependencies.logger),
        CounterEvictor(service: service, logger: dependencies.logger),
        UsageFactFolder(store: dependencies.store, logger: dependencies.logger)
    )
    // Stops before the committer drains and the database closes (services stop in reverse order).
    if let leases = service.leases { app.addServices(LeaseReleaser(leases: leases, logger: dependencies.logger)) }
    if let metrics = dependencies.metrics, let address = dependencies.metricsAddress {
        let running = dependencies.onMetricsRunning
        app.addServices(
            MetricsServer.application(
                metrics, host: address.host, port: address.port, logger: dependencies.logger,
                onServerRunning: { await running("http://\(address.host):\($0)/metrics") }))
    }
    if var mail = dependencies.mail {
        mail.delivery.instruments = dependencies.metrics?.instruments ?? Instruments()
        let client = WebhookSender.makeClient()
        // Added first, so it stops after the delivery that uses it (services stop in reverse order).
        app.addServices(
            HTTPClientShutdown(client: client),
            OutboxDelivery(
                store: dependencies.store, transport: mail.transport,
                renderer: MessageRenderer(
                    settings: mail.settings, box: dependencies.secretBox, templates: mail.templates),
                fanOut: EventFanOut(store: dependencies.store),
                webhooks: WebhookSender(
                    store: dependencies.store, box: dependencies.secretBox, client: client, clock: dependencies.clock,
                    settings: dependencies.webhooks, logger: dependencies.logger),
                clock: dependencies.clock,
                logger: dependencies.logger, settings: mail.delivery,
                attachments: { [documents = dependencies.documents] in
                    try await InvoiceMail.attachments(of: $0, invoices: invoices, documents: documents)
                }))
    }
    if let vault = dependencies.signingKeyVault {
        // A key rotated by `tollgate keys rotate-signing` (or on another node) signs here too within
        // seconds; a failed read keeps the keys there are.
        let ring = dependencies.signingKeys
        app.addServices(
            PeriodicService(name: "signing keys", interval: .seconds(5), logger: dependencies.logger, waitsFirst: true)
            {
                ring.replace(try await vault.keys())
            })
    }
    if let retention = dependencies.auditRetention {
        // Entries past the retention leave the chain's start; the head keeps the last one's hash.
        let trail = services.auditTrail
        let logger = dependencies.logger
        app.addServices(
            PeriodicService(name: "audit retention", interval: .seconds(3600), logger: logger) {
                let removed = try await trail.prune(retention: retention)
                if removed > 0 { logger.info("removed \(removed) audit entries past the retention") }
            })
    }
    if let retention = dependencies.idempotencyRetention {
        app.addServices(
            IdempotencyJanitor(
                store: dependencies.store, clock: dependencies.clock, retention: retention, logger: dependencies.logger)
        )
    }
    return app
}

/// Invoicing (overage priced from the meter's counters) and the subscription lifecycle.
func makeBilling(_ dependencies: AppDependencies, service: Meter) -> (InvoiceService, SubscriptionService) {
    let overage = OverageBilling(meter: service)
    let invoices = InvoiceService(
        catalog: dependencies.catalog, store: dependencies.store, clock: dependencies.clock,
        settings: dependencies.invoicing
    ) { subject, date, currency in
        try await overage.overageLines(customerId: subject, at: date, currency: currency)
    }
    let subscriptions = SubscriptionService(
        catalog: dependencies.catalog, store: dependencies.store, policy: dependencies.subscriptionPolicy,
        clock: dependencies.clock,
        logger: dependencies.logger, invoices: invoices
    )
    return (invoices, subscriptions)
}

/// The meter (over the customer directory) and the committer it needs running beside it.
func makeMeter(_ dependencies: AppDependencies) -> (Meter, GroupCommitter) {
    let committer = GroupCommitter(
        store: dependencies.store, clock: dependencies.clock, logger: dependencies.logger,
        instruments: dependencies.metrics?.instruments ?? Instruments())
    let customers = CustomerDirectory(
        catalog: dependencies.catalog, store: dependencies.store, clock: dependencies.clock,
        logger: dependencies.logger, capacity: dependencies.caches.customers)
    let meter = Meter(
        customers: customers, store: dependencies.store, committer: committer, clock: dependencies.clock,
        credits: CreditService(catalog: dependencies.catalog, store: dependencies.store, clock: dependencies.clock),
        leases: dependencies.cluster.map { QuotaLeases(store: dependencies.store, settings: $0) }
    )
    // The one way the cache learns of a change made here: the store tells at its commit (other
    // nodes and processes hear it through the change feed).
    dependencies.store.whenCustomerChangeCommits { meter.forget(customerId: $0) }
    return (meter, committer)
}

/// Shuts an HTTP client down at graceful shutdown, once the services added after it stopped.
struct HTTPClientShutdown: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Runs `action` when the service group shuts down.
struct ShutdownService: Service {
    let action: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await action()
    }
}

/// Builds the application and runs it until SIGTERM or SIGINT.
public func runServer(_ configuration: ServerConfiguration, onServerRunning: @escaping @Sendable (String) async -> Void)
    async throws
{
    let app = try await buildApplication(configuration, onServerRunning: onServerRunning)
    // A service that does not finish after SIGTERM must not keep the process alive: its tasks
    // are cancelled after 20 s, and the process ends if even that takes more than 10 s.
    var group = ServiceGroupConfiguration(
        services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
    group.maximumGracefulShutdownDuration = .seconds(20)
    group.maximumCancellationDuration = .seconds(10)
    do {
        try await ServiceGroup(configuration: group).run()
    } catch let error as IOError where error.errnoCode == EADDRINUSE {
        throw ServerStartError.portInUse(host: configuration.host, port: configuration.port)
    }
}

/// Why the server could not start, in one line for the operator.
public enum ServerStartError: Error, CustomStringConvertible {
    case portInUse(host: String, port: Int)

    public var description: String {
        switch self {
        case .portInUse(let host, let port): return "port \(port) on \(host) is in use (try --port)"
        }
    }
}
