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
import TollgateSQL
import TollgateStorage
import UnixSignals

public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var database: DatabaseLocation = .sqlite(directory: "./tollgate-data")
    /// Where generated secrets live (signing keys, the master key); also the SQLite directory.
    public var dataDirectory: String = "./tollgate-data"
    /// Nil: the bundled demo catalog (Memento Note).
    public var catalogPath: String?
    public var logLevel: Logger.Level = .info
    /// How long a past-due subscription keeps its entitlements (default 7 days).
    public var pastDueGrace: TimeInterval = 7 * 86_400
    /// How often trials, periods and grace periods are moved on.
    public var billingTick: Duration = .seconds(60)
    /// Several nodes share the (PostgreSQL) database: finite quotas are metered through leases.
    public var cluster: QuotaLeases.Settings?
    /// How long idempotency records are kept (a retry within it replays the first answer); nil
    /// keeps them forever.
    public var idempotencyRetention: TimeInterval? = 86_400
    public var caches = CacheLimits()
    /// How long audit entries are kept; nil keeps them forever.
    public var auditRetention: TimeInterval?
    /// The seller, numbering and VAT choices of invoices (the `seller:` and `invoices:` sections
    /// of `serve --config`).
    public var invoicing = InvoiceSettings()
    /// Where e-mail goes without an SMTP server: `.eml` files here (nil: `<data-dir>/mail`).
    public var mailDirectory: String?
    /// Where links in e-mail lead (nil: this server's customer portal, `/portal`).
    public var publicURL: URL?
    /// This server's address as readers of mail reach it, for unsubscribe links (nil: its own).
    public var publicAPIURL: URL?
    /// The sender of e-mail (nil: the catalog's name at no-reply@localhost).
    public var mailFrom: String?
    /// An SMTP server to send e-mail through (nil: files in `mailDirectory`).
    public var smtp: SMTPTransport.Configuration?
    /// Webhook URLs may be plain http and point at loopback or private addresses (tests, closed
    /// networks); otherwise only https to public addresses.
    public var allowPrivateWebhookURLs = false
    /// Who is e-mailed when a webhook endpoint is disabled for failing.
    public var operatorEmail: String?
    /// How long a node holds an outbox message it is sending.
    public var mailLease: Duration = .seconds(120)
    /// The origins allowed to frame `/embed/pricing`.
    public var embedOrigins: [String] = []
    /// Where "Contact sales" leads: a `mailto:` link or an http(s) URL (`serve --sales-contact`);
    /// nil: the operator's address, else the portal's page for the plan.
    public var salesContact: String?
    /// TLS, timeouts against slow clients, CORS (`serve --tls-cert --tls-key --cors-origin`).
    public var http = HTTPSettings()
    /// Where Prometheus scrapes `/metrics` (`serve --metrics-port`, loopback); nil: no metrics.
    public var metricsAddress: (host: String, port: Int)?
    /// Told the metrics' address once they are served.
    public var onMetricsRunning: @Sendable (String) async -> Void = { _ in }

    public init() {}
}

/// E-mail: where it goes and how it is written; the outbox's delivery service runs when set.
public struct MailConfiguration: Sendable {
    public var transport: any MailTransport
    public var settings: MailSettings
    public var templates: MailTemplates
    public var delivery = OutboxDelivery.Settings()

    /// With the templates shipped in the binary.
    public init(transport: any MailTransport, settings: MailSettings) throws {
        self.transport = transport
        self.settings = settings
        self.templates = try MailTemplates.bundled()
    }
}

/// How many entries each in-memory cache may hold; past that the least recently used goes.
public struct CacheLimits: Sendable {
    public var customers: Int
    public var apiKeys: Int

    public init(customers: Int = 100_000, apiKeys: Int = 10_000) {
        self.customers = customers
        self.apiKeys = apiKeys
    }
}

/// Everything the application is made of, passed in explicitly so tests can build the same app.
public struct AppDependencies: Sendable {
    public var catalog: Catalog
    public var store: any Storage
    public var databaseKind: DatabaseKind
    public var clock: any TollgateClock
    public var logger: Logger
    public var signingKeys: SigningKeyRing
    /// Where `signingKeys` are reloaded from every few seconds (nil: they stay as given).
    public var signingKeyVault: SigningKeyVault?
    public var secretBox: SecretBox
    public var passwordPolicy: PasswordPolicy
    /// Secrets Stripe signs webhooks with (several while one is rotated).
    public var stripeWebhookSecrets: [String]
    /// Stripe's API; nil when no secret key is configured.
    public var stripe: StripeClient?
    public var subscriptionPolicy = SubscriptionPolicy()
    public var billingTick: Duration = .seconds(60)
    /// Quota leases for several nodes on one database; nil on a single node.
    public var cluster: QuotaLeases.Settings?
    /// How long idempotency records are kept; nil keeps them forever.
    public var idempotencyRetention: TimeInterval?
    /// How long audit entries are kept; nil keeps them forever.
    public var auditRetention: TimeInterval?
    /// E-mail delivery of the outbox; nil: messages wait in the outbox (tests that read it).
    public var mail: MailConfiguration?
    /// How webhooks are sent (where they may go, who hears of a disabled endpoint).
    public var webhooks = WebhookSender.Settings()
    /// The seller, numbering and VAT choices of Tollgate's own invoices (`serve --config`).
    public var invoicing = InvoiceSettings()
    /// Invoices' PDFs, off the request threads and kept once rendered (every door uses this one).
    let documents: DocumentRenderer
    public var caches = CacheLimits()
    /// Where the console is reached (setup links lead there; `https` makes its cookies `Secure`).
    public var consoleBaseURL = "http://127.0.0.1:8080"
    /// Operator sessions, setup links, passwords of the console.
    public var operatorSettings = OperatorService.Settings()
    /// The origins allowed to frame `/embed/pricing` (`https://www.example.com`); none: no one.
    public var embedOrigins: [String] = []
    /// Where "Contact sales" leads (a `mailto:` link or a URL).
    public var salesContact: String?
    /// TLS, timeouts against slow clients, CORS.
    public var http = HTTPSettings()
    /// Prometheus metrics, served at `metricsAddress` (`serve --metrics-port`); nil: none.
    public var metrics: TollgateMetrics?
    public var metricsAddress: (host: String, port: Int)?
    /// Told the metrics server's address once it listens.
    public var onMetricsRunning: @Sendable (String) async -> Void = { _ in }
    /// Called once everything else has stopped (closes the database).
    public var shutdown: @Sendable () async -> Void

    public init(
        catalog: Catalog, store: any Storage, databaseKind: DatabaseKind, clock: any TollgateClock, logger: Logger,
        signingKeys: SigningKeyRing, secretBox: SecretBox, passwordPolicy: PasswordPolicy = PasswordPolicy(),
        stripeWebhookSecrets: [String] = [], stripe: StripeClient? = nil, shutdown: @escaping @Sendable () async -> Void
    ) {
        self.stripeWebhookSecrets = stripeWebhookSecrets
        self.stripe = stripe
        self.catalog = catalog
        self.store = store
        self.databaseKind = databaseKind
        self.clock = clock
        self.logger = logger
        self.signingKeys = signingKeys
        self.secretBox = secretBox
        self.passwordPolicy = passwordPolicy
        self.shutdown = shutdown
        documents = DocumentRenderer(customers: store)
    }
}

public enum DefaultCatalog {
    /// The demo catalog shipped inside the binary: `catalogs/memento.yaml`.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "memento", withExtension: "yaml") else {
            throw CatalogError(issues: [
                CatalogIssue(path: "", message: "the bundled demo catalog is missing from this build")
            ])
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    public static func load(path: String?) throws -> Catalog {
        if let path { return try CatalogLoader.load(contentsOf: path) }
        return try CatalogLoader.load(yaml: yaml())
    }
}

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
    let environment = ProcessInfo.processInfo.environment
    var dependencies = AppDependencies(
        catalog: catalog, store: store, databaseKind: store.provider.kind, clock: clock, logger: logger,
        signingKeys: signingKeys, secretBox: secretBox,
        stripeWebhookSecrets: StripeSignatureVerifier(environmentValue: environment["STRIPE_WEBHOOK_SECRET"] ?? "")
            .secrets,
        stripe: environment["STRIPE_SECRET_KEY"].map {
            StripeClient(secretKey: $0, baseURL: environment["STRIPE_API_BASE"] ?? "https://api.stripe.com")
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
    let (invoices, subscriptions) = makeBilling(dependencies, service: service)
    let router = buildRouter(dependencies, service: service, subscriptions: subscriptions, invoices: invoices)
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
        let trail = AuditTrail(store: dependencies.store, box: dependencies.secretBox, clock: dependencies.clock)
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
        logger: dependencies.logger, invoices: invoices, planChanged: { service.forget(customerId: $0) }
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
    return (meter, committer)
}

func buildRouter(
    _ dependencies: AppDependencies, service: Meter, subscriptions: SubscriptionService,
    invoices: InvoiceService
) -> Router<TollgateRequestContext> {
    let router = Router(context: TollgateRequestContext.self)
    let routeMethods = RouteMethods()
    // Outermost: every answer, errors included (turned into answers just inside), gets them.
    // Pages reached over https get `Secure` cookies (the console's and the portal's, and any other).
    let secureCookies = dependencies.consoleBaseURL.hasPrefix("https:")
    router.add(
        middleware: SecurityHeadersMiddleware(
            strictTransport: dependencies.http.tls != nil, secureCookies: secureCookies))
    if let metrics = dependencies.metrics { router.add(middleware: MetricsMiddleware(metrics: metrics)) }
    if !dependencies.http.corsOrigins.isEmpty {
        router.add(middleware: CORSAllowList(origins: Set(dependencies.http.corsOrigins)))
    }
    router.add(middleware: ErrorMiddleware(routes: routeMethods))
    let catalog = dependencies.catalog
    let rateLimiter = RateLimiter(
        shared: dependencies.cluster == nil ? nil : RateLimiter.Shared(store: dependencies.store),
        clock: dependencies.clock)
    var accountSettings = AccountSettings(audience: dependencies.catalog.product)
    accountSettings.authenticatorIssuer = dependencies.catalog.name
    accountSettings.passwordPolicy = dependencies.passwordPolicy
    let accounts = AccountService(
        settings: accountSettings, store: dependencies.store, keys: dependencies.signingKeys,
        box: dependencies.secretBox,
        clock: dependencies.clock, defaultPlan: dependencies.catalog.defaultPlanId
    )
    let authenticator = APIKeyAuthenticator(
        store: dependencies.store, clock: dependencies.clock, capacity: dependencies.caches.apiKeys)
    if let limit = catalog.rateLimits.ip {
        // API callers without a valid credential, by address (pages have their own sign-in
        // throttles): a header that names no live key and no token of ours counts as none, and
        // the routes that need none (sign-up, sign-in, resets…) are counted whatever is sent.
        router.add(
            middleware: RateLimitMiddleware(limiter: rateLimiter) { request, context in
                let path = request.uri.path
                guard path.hasPrefix("/v1/") else { return nil }
                if !RateLimitMiddleware.answersWithoutCredential(path),
                    let credential = try? BearerToken.from(request, naming: "", expected: ""),
                    await authenticator.isLive(secret: credential) || accounts.signed(accessToken: credential)
                {
                    return nil
                }
                return .init(policy: "ip", key: "ip:" + context.clientAddress, limit: limit)
            })
    }
    let auditTrail = AuditTrail(store: dependencies.store, box: dependencies.secretBox, clock: dependencies.clock)
    router.add(middleware: AuditMiddleware(trail: auditTrail))
    // The document ships in the binary; a build without it lacks these routes, and the route
    // table tests fail.
    DocsRoutes.bundled?.register(on: router)
    let store = dependencies.store
    let kind = dependencies.databaseKind
    // Ready: the database answers (a load balancer stops sending to a node that fails it).
    let health: @Sendable (Request, TollgateRequestContext) async throws -> HealthResponse = { _, context in
        do {
            try await store.ping()
        } catch {
            context.logger.error(
                "health check: database unreachable", metadata: ["error": "\(String(reflecting: error))"])
            throw DomainError(.unavailable, "the database does not answer")
        }
        return HealthResponse(status: "ok", database: kind.rawValue)
    }
    router.get("health", use: health)
    router.get("health/ready", use: health)
    let accountRoutes = AccountRoutes(accounts: accounts)
    accountRoutes.registerPublic(on: router)
    let signedIn = router.group("v1").add(middleware: UserAuthenticator(accounts: accounts))
        .add(
            middleware: RateLimitMiddleware(limiter: rateLimiter) { _, context in
                guard let user = context.user, let limit = catalog.plan(user.claims.plan)?.rateLimit else { return nil }
                return .init(policy: "user", key: "user:" + user.userId, limit: limit)
            }
        ).group(context: UserContext.self)
    accountRoutes.registerSignedIn(on: signedIn)
    let mailPreferences = MailPreferenceRoutes(
        store: dependencies.store, box: dependencies.secretBox, clock: dependencies.clock)
    mailPreferences.registerPublic(on: router)
    mailPreferences.registerSignedIn(on: signedIn)
    let workspaces = WorkspaceService(
        catalog: dependencies.catalog, store: dependencies.store, clock: dependencies.clock,
        box: dependencies.secretBox)
    WorkspaceRoutes(workspaces: workspaces, service: service).register(on: signedIn)
    MeRoutes(service: service, store: dependencies.store, clock: dependencies.clock).register(on: signedIn)
    // One credit service (and one cache of balances) for the meter and every door.
    let credits =
        service.credits
        ?? CreditService(catalog: dependencies.catalog, store: dependencies.store, clock: dependencies.clock)
    let privacy = PrivacyRoutes(
        accounts: accounts, workspaces: workspaces, meter: service, credits: credits, invoices: invoices,
        store: dependencies.store, clock: dependencies.clock)
    privacy.register(on: signedIn)
    if let metrics = dependencies.metrics {
        metrics.addCollector { [store] in
            let outbox = try await store.outboxStats()
            for (kind, waiting) in outbox.pending {
                metrics.gauge("tollgate_outbox_waiting", waiting, labels: [("kind", kind)])
            }
            metrics.gauge("tollgate_outbox_failed", outbox.failed)
            for (name, statistics) in [
                ("customers", service.customers.cacheStatistics), ("api_keys", authenticator.cacheStatistics),
            ] {
                metrics.gauge("tollgate_cache_entries", statistics.entries, labels: [("cache", name)])
                metrics.count("tollgate_cache_hits_total", statistics.hits, labels: [("cache", name)])
                metrics.count("tollgate_cache_misses_total", statistics.misses, labels: [("cache", name)])
            }
            metrics.gauge("tollgate_leases_held", service.leases?.count ?? 0)
        }
    }
    let portalCookie = PortalCookie(box: dependencies.secretBox, secure: secureCookies)
    PricingRoutes(
        catalog: dependencies.catalog, embedOrigins: dependencies.embedOrigins,
        salesContact: dependencies.salesContact,
        portal: PortalAuthenticator(accounts: accounts, cookie: portalCookie, required: false),
        customers: service.customers
    ).register(on: router)
    // Encoding the catalog cannot fail (strings and integers); a build where it did would lack the
    // route, and the route table tests would say so.
    try? PublicCatalogRoutes(
        catalog: dependencies.catalog, keys: authenticator, accounts: accounts, customers: service.customers
    ).register(on: router)
    let v1 = router.group("v1").add(middleware: authenticator)
        .add(
            middleware: RateLimitMiddleware(limiter: rateLimiter) { _, context in
                guard let caller = context.caller, let limit = catalog.rateLimits.secretKey else { return nil }
                return .init(policy: "key", key: "key:" + caller.bucket, limit: limit)
            }
        ).group(context: AuthenticatedContext.self)
    let audit = AuditRoutes(
        store: dependencies.store, workspaces: workspaces, customers: dependencies.store, catalog: dependencies.catalog)
    audit.register(on: v1)
    audit.register(on: signedIn)
    APIv1Routes(service: service, clock: dependencies.clock, metrics: dependencies.metrics).register(on: v1)
    privacy.register(on: v1)
    EventRoutes(service: service).register(on: v1)
    let apiKeys = APIKeyService(
        store: dependencies.store, clock: dependencies.clock, forget: { authenticator.forget(keyId: $0) })
    APIKeyRoutes(keys: apiKeys).register(on: v1)
    AnalyticsRoutes(store: dependencies.store, clock: dependencies.clock).register(on: v1)
    ProductAnalyticsRoutes(store: dependencies.store, catalog: dependencies.catalog, clock: dependencies.clock)
        .register(on: v1)
    TrackRoutes(store: dependencies.store, clock: dependencies.clock).register(on: v1)
    let webhookEndpoints = WebhookEndpointService(
        store: dependencies.store, box: dependencies.secretBox, policy: dependencies.webhooks.policy,
        clock: dependencies.clock)
    WebhookRoutes(store: dependencies.store, endpoints: webhookEndpoints, clock: dependencies.clock).register(on: v1)
    let stripeBilling = StripeBilling(
        catalog: dependencies.catalog, store: dependencies.store, client: dependencies.stripe,
        policy: dependencies.subscriptionPolicy, tax: dependencies.invoicing.stripe,
        clock: dependencies.clock, planChanged: { service.forget(customerId: $0) }
    )
    CreditRoutes(credits: credits, stripe: stripeBilling).register(on: v1)
    let webhooks = StripeWebhookService(
        catalog: dependencies.catalog, store: dependencies.store,
        verifier: StripeSignatureVerifier(secrets: dependencies.stripeWebhookSecrets),
        policy: dependencies.subscriptionPolicy, clock: dependencies.clock, logger: dependencies.logger,
        client: dependencies.stripe, planChanged: { service.forget(customerId: $0) },
        grantPack: { customer, pack, reference in
            _ = try await credits.grant(
                customerId: customer, amount: pack.amount, creditType: pack.creditType, expiresAt: nil, priority: 0,
                reason: .purchase, reference: pack.id, idempotencyKey: reference
            )
        },
        invoices: invoices
    )
    InvoiceRoutes(service: service, invoices: invoices).register(on: v1)
    PackPurchaseRoutes(credits: credits, invoices: invoices, catalog: dependencies.catalog).register(on: v1)
    InvoicingAnalyticsRoutes(invoices: invoices).register(on: v1)
    InvoiceDocumentRoutes(invoices: invoices, subscriptions: subscriptions, documents: dependencies.documents)
        .register(on: v1)
    CustomerListRoutes(store: dependencies.store, catalog: dependencies.catalog, clock: dependencies.clock)
        .register(on: v1)
    let operators = OperatorService(
        store: dependencies.store, box: dependencies.secretBox, clock: dependencies.clock,
        passwordPolicy: dependencies.passwordPolicy, settings: dependencies.operatorSettings)
    let consoleSettings = ConsoleSettings(
        secureCookies: secureCookies, publicBase: dependencies.consoleBaseURL,
        productName: dependencies.catalog.name, box: dependencies.secretBox)
    ConsoleRoutes(
        operators: operators, settings: consoleSettings,
        pages: ConsolePages(
            store: dependencies.store, catalog: dependencies.catalog, clock: dependencies.clock, meter: service,
            subscriptions: subscriptions, invoices: invoices, credits: credits, operators: operators,
            apiKeys: apiKeys, settings: consoleSettings, documents: dependencies.documents,
            webhookEndpoints: webhookEndpoints),
        store: dependencies.store, clock: dependencies.clock
    ).register(on: router)
    PortalRoutes(
        accounts: accounts, cookie: portalCookie, settings: consoleSettings,
        pages: PortalPages(
            catalog: dependencies.catalog, accounts: accounts, workspaces: workspaces, meter: service,
            subscriptions: subscriptions, stripe: stripeBilling, stripeEnabled: dependencies.stripe != nil,
            invoices: invoices, credits: credits, store: dependencies.store, clock: dependencies.clock,
            productName: dependencies.catalog.name, salesContact: dependencies.salesContact,
            publicBase: dependencies.consoleBaseURL, documents: dependencies.documents)
    ).register(on: router)
    let billing = BillingRoutes(webhooks: webhooks, subscriptions: subscriptions, stripe: stripeBilling)
    billing.register(on: router)
    billing.register(on: v1)
    routeMethods.record(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
    return router
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
