import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TollgateAnalytics
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateStorage
import UnixSignals

/// Every front door over the services the composition built: the API, the console, the portal, the
/// public pages, and the plumbing around them.
func buildRouter(_ dependencies: AppDependencies, _ services: Services) -> Router<TollgateRequestContext> {
    let service = services.meter
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
    let accounts = services.accounts
    let authenticator = services.apiKeyAuthenticator
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
    router.add(middleware: AuditMiddleware(trail: services.auditTrail))
    // The document ships in the binary; a build without it lacks these routes, and the route
    // table tests fail.
    DocsRoutes.bundled?.register(on: router)
    let store = dependencies.store
    let reads = services.reads
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
        mail: services.mailPreferences, store: reads, box: dependencies.secretBox)
    mailPreferences.registerPublic(on: router)
    mailPreferences.registerSignedIn(on: signedIn)
    let workspaces = services.workspaces
    WorkspaceRoutes(workspaces: workspaces, service: service).register(on: signedIn)
    MeRoutes(service: service, store: reads, clock: dependencies.clock).register(on: signedIn)
    let credits = services.credits
    let invoices = services.invoices
    let subscriptions = services.subscriptions
    let privacy = PrivacyRoutes(
        accounts: accounts, workspaces: workspaces, meter: service, credits: credits, invoices: invoices,
        store: reads, clock: dependencies.clock)
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
    let audit = AuditRoutes(store: reads, workspaces: workspaces, customers: reads, catalog: dependencies.catalog)
    audit.register(on: v1)
    audit.register(on: signedIn)
    APIv1Routes(service: service, clock: dependencies.clock, metrics: dependencies.metrics).register(on: v1)
    CustomerBatchRoutes(customers: service.customers).register(on: v1)
    privacy.register(on: v1)
    EventRoutes(service: service).register(on: v1)
    let apiKeys = services.apiKeys
    APIKeyRoutes(keys: apiKeys).register(on: v1)
    AnalyticsRoutes(reports: services.reports, clock: dependencies.clock).register(on: v1)
    ProductAnalyticsRoutes(reports: services.reports, catalog: dependencies.catalog, clock: dependencies.clock)
        .register(on: v1)
    TrackRoutes(events: services.productEvents).register(on: v1)
    let webhookEndpoints = services.webhookEndpoints
    let deliveries = services.deliveries
    WebhookRoutes(
        store: reads, endpoints: webhookEndpoints, deliveries: deliveries, clock: dependencies.clock
    )
    .register(on: v1)
    let stripeBilling = services.stripe
    let billing = services.billing
    CreditRoutes(credits: credits, billing: billing).register(on: v1)
    InvoiceRoutes(service: service, invoices: invoices).register(on: v1)
    PackPurchaseRoutes(billing: billing).register(on: v1)
    InvoicingAnalyticsRoutes(invoices: invoices).register(on: v1)
    InvoiceDocumentRoutes(invoices: invoices, subscriptions: subscriptions, documents: dependencies.documents)
        .register(on: v1)
    CustomerListRoutes(store: reads, catalog: dependencies.catalog, clock: dependencies.clock)
        .register(on: v1)
    let operators = services.operators
    let consoleSettings = ConsoleSettings(
        secureCookies: secureCookies, publicBase: dependencies.consoleBaseURL,
        productName: dependencies.catalog.name, box: dependencies.secretBox)
    ConsoleRoutes(
        operators: operators, settings: consoleSettings,
        pages: ConsolePages(
            store: reads, reports: services.reports, catalog: dependencies.catalog, clock: dependencies.clock,
            meter: service,
            subscriptions: subscriptions, invoices: invoices, credits: credits, operators: operators,
            apiKeys: apiKeys, settings: consoleSettings, documents: dependencies.documents,
            webhookEndpoints: webhookEndpoints, deliveries: deliveries, billing: billing),
        clock: dependencies.clock
    ).register(on: router)
    PortalRoutes(
        accounts: accounts, cookie: portalCookie, settings: consoleSettings,
        pages: PortalPages(
            catalog: dependencies.catalog, accounts: accounts, workspaces: workspaces, meter: service,
            subscriptions: subscriptions, billing: billing, stripe: stripeBilling,
            invoices: invoices, credits: credits, store: reads, clock: dependencies.clock,
            productName: dependencies.catalog.name, salesContact: dependencies.salesContact,
            publicBase: dependencies.consoleBaseURL, documents: dependencies.documents)
    ).register(on: router)
    let billingRoutes = BillingRoutes(
        webhooks: services.stripeWebhooks, subscriptions: subscriptions, billing: billing, stripe: stripeBilling)
    billingRoutes.register(on: router)
    billingRoutes.register(on: v1)
    routeMethods.record(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
    return router
}
