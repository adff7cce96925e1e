import ArgumentParser
import Foundation
import Logging
import TollgateBench
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateServer
import TollgateStorage

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server (applies pending migrations first).",
        discussion: """
            Environment variables read:
              TOLLGATE_MASTER_KEY     base64 of 32 bytes sealing TOTP seeds and e-mailed tokens
                                      (default: generated into <data-dir>/keys/master.key)
              STRIPE_SECRET_KEY       Stripe's secret key (sk_…): enables checkout, portal, plan changes
              STRIPE_WEBHOOK_SECRET   whsec_… Stripe signs webhooks with; several, comma-separated,
                                      while one is rotated
              STRIPE_API_BASE         another Stripe API address (localstripe in tests)
              TOLLGATE_SMTP_URL       smtp://user:password@host:port (STARTTLS when offered) or
                                      smtps://… to send e-mail through
                                      (default: .eml files in <data-dir>/mail)

            Example:
              STRIPE_SECRET_KEY=sk_test_… STRIPE_WEBHOOK_SECRET=whsec_… \\
                tollgate serve --port 8080 --data-dir /var/lib/tollgate --catalog catalogs/memento.yaml

            Once it runs: / links to /docs (the API reference) and /openapi.yaml.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @OptionGroup var databaseOptions: DatabaseOptions
    @Option(help: "Catalog file (YAML); the bundled Memento Note demo catalog when omitted.") var catalog: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"
    @Option(help: "Seconds a past-due subscription keeps its entitlements before the free plan.")
    var pastDueGraceSeconds = 7 * 86_400
    @Option(help: "Seconds between two passes of the billing scheduler (trials, periods, grace).")
    var billingTickSeconds = 60
    @Option(
        help:
            """
            Days an idempotency key is remembered (a retry within them replays the first answer); 0 keeps them \
            forever.
            """
    )
    var idempotencyRetentionDays = 1
    @Option(help: "Days audit entries are kept (the oldest are removed from the chain's start); 0 keeps them forever.")
    var auditRetentionDays = 0
    @Flag(help: "Several nodes share this PostgreSQL database: meter finite quotas through leases.") var cluster = false
    @Option(help: "With --cluster: seconds a quota lease lasts (the longest a crashed node's units stay stranded).")
    var leaseSeconds = 10
    @Option(help: "Customers kept in memory (least recently used dropped first).") var customerCacheSize = 100_000
    @Option(help: "API keys kept in memory (least recently used dropped first).") var apiKeyCacheSize = 10_000
    @Option(help: "Without an SMTP server, e-mail is written here as .eml files (default: <data-dir>/mail).")
    var mailDir: String?
    @Option(
        name: .customLong("embed-origin"),
        help: "An origin allowed to frame /embed/pricing (https://www.example.com); repeat for several.")
    var embedOrigins: [String] = []
    @Option(help: "Where Contact sales leads: an e-mail address or an http(s) URL (default: --operator-email).")
    var salesContact: String?
    @Option(help: "Serve https with this certificate chain (PEM); with --tls-key. Without: http (behind a proxy).")
    var tlsCert: String?
    @Option(help: "The private key (PEM) of --tls-cert.") var tlsKey: String?
    @Option(help: "Serve Prometheus metrics at /metrics on this port (0: any free one); none without it.")
    var metricsPort: Int?
    @Option(help: "The address the metrics port listens on (loopback unless you say otherwise).")
    var metricsHost = "127.0.0.1"
    @Option(help: "Logs as `text` or as `json` (one object per line, with request ids).") var logFormat = "text"
    @Option(help: "Seconds a connection may stay idle (or dribble a request) before it is closed.")
    var idleTimeoutSeconds = 30
    @Option(
        name: .customLong("cors-origin"),
        help: "An origin whose browser pages may call the API (https://app.example.com); repeat for several.")
    var corsOrigins: [String] = []
    @Option(help: "Where links in e-mail lead: the product's front end (default: this server's portal, /portal).")
    var publicUrl: String?
    @Option(help: "This server's address as mail readers reach it, for unsubscribe links (default: its own).")
    var publicApiUrl: String?
    @Option(help: "The sender of e-mail, as `Name <address>` (default: the catalog's name at no-reply@localhost).")
    var mailFrom: String?
    @Option(
        help: """
            Send e-mail through this SMTP server (or TOLLGATE_SMTP_URL): smtp://user:password@host:port (STARTTLS \
            when offered; ?starttls=required to insist), smtps://… for implicit TLS, &ca=/path/ca.pem to trust a \
            private CA.
            """)
    var smtpUrl: String?
    @Option(
        help: """
            Seconds a node holds a message it is sending: a node that dies mid-send leaves it to be sent \
            again (with the same Message-ID or webhook-id) after this.
            """)
    var mailLeaseSeconds = 120
    @Flag(help: "Let webhook endpoints use plain http and loopback or private addresses (tests, closed networks).")
    var allowPrivateWebhookUrls = false
    @Option(help: "An operator's address, e-mailed when a webhook endpoint is disabled after failing for 5 days.")
    var operatorEmail: String?
    @Option(help: "Configuration file (YAML): the invoices' `seller:` and `invoices:` numbering and VAT choices.")
    var config: String?

    /// An http(s) URL given to `option`, or a usage error naming it.
    /// Each of `origins` a scheme and a host (and port), nothing more, or a refusal naming `option`.
    static func requireOrigins(_ origins: [String], option: String, example: String) throws {
        for origin in origins {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                url.path.isEmpty, url.query == nil
            else { throw ValidationError("\(option) must be an origin such as \(example)") }
        }
    }

    static func httpURL(_ text: String, option: String) throws -> URL {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
            throw ValidationError("\(option) must be an http(s) URL")
        }
        return url
    }

    func run() async throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.database = databaseOptions.location
        configuration.dataDirectory = databaseOptions.dataDirectory
        configuration.catalogPath = catalog
        guard pastDueGraceSeconds >= 0, billingTickSeconds >= 1 else {
            throw ValidationError("--past-due-grace-seconds must be 0 or more and --billing-tick-seconds 1 or more")
        }
        configuration.pastDueGrace = TimeInterval(pastDueGraceSeconds)
        configuration.billingTick = .seconds(billingTickSeconds)
        guard idempotencyRetentionDays >= 0 else {
            throw ValidationError("--idempotency-retention-days must be 0 or more")
        }
        configuration.idempotencyRetention =
            idempotencyRetentionDays == 0 ? nil : TimeInterval(idempotencyRetentionDays) * 86_400
        guard auditRetentionDays >= 0 else { throw ValidationError("--audit-retention-days must be 0 or more") }
        configuration.auditRetention = auditRetentionDays == 0 ? nil : TimeInterval(auditRetentionDays) * 86_400
        if cluster {
            guard leaseSeconds >= 2 else { throw ValidationError("--lease-seconds must be 2 or more") }
            var leases = QuotaLeases.Settings()
            leases.ttl = .seconds(leaseSeconds)
            configuration.cluster = leases
        }
        guard customerCacheSize >= 1, apiKeyCacheSize >= 1 else {
            throw ValidationError("--customer-cache-size and --api-key-cache-size must be 1 or more")
        }
        configuration.caches = CacheLimits(customers: customerCacheSize, apiKeys: apiKeyCacheSize)
        configuration.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        configuration.mailDirectory = mailDir
        configuration.mailFrom = mailFrom
        configuration.allowPrivateWebhookURLs = allowPrivateWebhookUrls
        guard mailLeaseSeconds >= 1 else { throw ValidationError("--mail-lease-seconds must be 1 or more") }
        configuration.mailLease = .seconds(mailLeaseSeconds)
        configuration.operatorEmail = operatorEmail
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("--config: cannot read \(config)")
            }
            configuration.invoicing = try InvoiceSettings.load(yaml: text)
        }
        // The environment, read here and only here: what the flags leave unsaid.
        let environment = ProcessInfo.processInfo.environment
        configuration.stripeSecretKey = environment["STRIPE_SECRET_KEY"]
        if let base = environment["STRIPE_API_BASE"] { configuration.stripeAPIBase = base }
        configuration.stripeWebhookSecrets =
            StripeSignatureVerifier(environmentValue: environment["STRIPE_WEBHOOK_SECRET"] ?? "").secrets
        if let smtp = smtpUrl ?? environment["TOLLGATE_SMTP_URL"] {
            guard let parsed = SMTPTransport.Configuration(url: smtp) else {
                throw ValidationError(
                    "--smtp-url must look like smtp://user:password@host:port[?starttls=required] or smtps://…")
            }
            configuration.smtp = parsed
        }
        configuration.publicAPIURL = try publicApiUrl.map { try Self.httpURL($0, option: "--public-api-url") }
        configuration.publicURL = try publicUrl.map { try Self.httpURL($0, option: "--public-url") }
        try Self.requireOrigins(embedOrigins, option: "--embed-origin", example: "https://www.example.com")
        configuration.embedOrigins = embedOrigins
        if let salesContact {
            if let address = try? EmailAddress.normalized(salesContact) {
                configuration.salesContact = "mailto:" + address
            } else {
                configuration.salesContact = try Self.httpURL(salesContact, option: "--sales-contact").absoluteString
            }
        }
        try Self.requireOrigins(corsOrigins, option: "--cors-origin", example: "https://app.example.com")
        configuration.http.corsOrigins = corsOrigins
        guard (1...3600).contains(idleTimeoutSeconds) else {
            throw ValidationError("--idle-timeout-seconds must be from 1 to 3600")
        }
        configuration.http.idleTimeoutSeconds = idleTimeoutSeconds
        if let metricsPort {
            guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be 0 to 65535") }
            configuration.metricsAddress = (metricsHost, metricsPort)
            configuration.onMetricsRunning = { url in FileHandle.standardOutput.write(Data("Metrics on \(url)\n".utf8))
            }
        }
        switch logFormat {
        case "text": break
        case "json": LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        default: throw ValidationError("--log-format must be text or json")
        }
        switch (tlsCert, tlsKey) {
        case (nil, nil): break
        case (let cert?, let key?):
            do {
                configuration.http.tls = try HTTPSettings.tls(certificatePath: cert, keyPath: key)
            } catch {
                throw ValidationError("--tls-cert/--tls-key: cannot read a PEM certificate and key (\(error))")
            }
        default: throw ValidationError("--tls-cert and --tls-key go together")
        }
        let storage = databaseOptions.summary
        let catalogName = catalog ?? "bundled memento.yaml"
        do {
            try await runServer(configuration) { url in
                FileHandle.standardOutput.write(
                    Data("Tollgate listening on \(url) (\(storage), catalog \(catalogName))\n".utf8))
                FileHandle.standardOutput.write(Data(consoleHint(url).utf8))
            }
        } catch let error as CatalogError {
            FileHandle.standardError.write(Data("tollgate: refusing to start: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as CatalogMismatchError {
            FileHandle.standardError.write(Data("tollgate: refusing to start: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as ServerStartError {
            FileHandle.standardError.write(Data("tollgate: \(error)\n".utf8))
            throw ExitCode(1)
        } catch is CancellationError {
            // SIGTERM or SIGINT: the services have stopped gracefully; nothing went wrong.
            return
        }
    }
}

extension Serve {
    /// Where the console is, and how its first operator is made (with this server's database).
    func consoleHint(_ url: String) -> String {
        var where_ = ""
        if databaseOptions.database != nil {
            where_ = " --database <the same URL>"
        } else if databaseOptions.dataDirectory != "./tollgate-data" {
            where_ = " --data-dir \(databaseOptions.dataDirectory)"
        }
        let link = publicUrl == nil && url != "http://127.0.0.1:8080" ? " --url \(url)" : ""
        return "Console: \(url)/console — first operator: tollgate operators create --email you@example.com"
            + "\(where_)\(link) (prints the setup link)\n"
    }
}
