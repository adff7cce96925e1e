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
    /// Stripe's secret key (`STRIPE_SECRET_KEY`): nil, Stripe is not used.
    public var stripeSecretKey: String?
    /// Where Stripe's API is (`STRIPE_API_BASE`, localstripe in tests).
    public var stripeAPIBase = "https://api.stripe.com"
    /// The secrets Stripe signs webhooks with (`STRIPE_WEBHOOK_SECRET`, comma-separated while one
    /// is rotated).
    public var stripeWebhookSecrets: [String] = []
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
