import ArgumentParser
import Foundation
import Logging
import TollgateBench
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateServer
import TollgateStorage

@main
struct Tollgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate",
        abstract: "Entitlements, metering and billing for SaaS products.",
        subcommands: [
            Serve.self, Migrate.self, Status.self, Keys.self, CatalogCommand.self, Customers.self, Outbox.self,
            Operators.self, Backup.self, Restore.self, AuditCommand.self, BenchCommand.self,
        ]
    )
}

/// Where the data is: a SQLite directory by default, or a PostgreSQL URL.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: """
            Data directory: the embedded SQLite database and the master key (default ./tollgate-data; with \
            --database, where the master key is).
            """)
    var dataDirectoryOption: String?

    var dataDirectory: String { dataDirectoryOption ?? "./tollgate-data" }

    @Option(help: "PostgreSQL URL (postgres://user:pass@host:port/db); overrides --data-dir.")
    var database: String?

    var location: DatabaseLocation {
        if let database { return .postgres(url: database) }
        return .sqlite(directory: dataDirectory)
    }

    /// Opens the database (applying migrations), runs `body` on it, and closes it whatever
    /// `body` did.
    func withStore<T: Sendable>(_ body: (SQLStore) async throws -> T) async throws -> T {
        let store = try await SQLStore.open(location, logger: Logger(label: "tollgate"))
        do {
            let result = try await body(store)
            await store.shutdown()
            return result
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// Records a command's change in the audit trail, as done at this terminal (actor `system`,
    /// `cli:<user>`). A data directory (SQLite's, or one named with --data-dir) makes its master
    /// key on first use, as the server would; with only --database and no key in the default
    /// directory, it says so on stderr rather than make a key nobody else has.
    func recordInAuditTrail(
        _ store: SQLStore, action: String, target: String?, before: (any Encodable)? = nil,
        after: (any Encodable)? = nil, box given: SecretBox? = nil
    ) async {
        do {
            guard
                given != nil || database == nil || dataDirectoryOption != nil
                    || KeyDirectory(dataDirectory: dataDirectory).hasMasterKey()
            else {
                throw KeyDirectoryError.invalid("no master key in \(dataDirectory) nor in TOLLGATE_MASTER_KEY")
            }
            let box: SecretBox
            if let given { box = given } else { box = try await secretBox(store: store) }
            let trail = AuditTrail(store: store, box: box, clock: SystemClock())
            var draft = trail.draft(
                actor: AuditActor(kind: .system, id: "cli:" + NSUserName()), action: action, target: target)
            draft.before = AuditTrail.state(before)
            draft.after = AuditTrail.state(after)
            try await trail.record(draft)
        } catch {
            FileHandle.standardError.write(Data("tollgate: not recorded in the audit trail: \(error)\n".utf8))
        }
    }

    /// The master key, once a rotation a crash interrupted is settled.
    func secretBox(store: SQLStore) async throws -> SecretBox {
        let directory = KeyDirectory(dataDirectory: dataDirectory)
        try await MasterKeyRotation.settle(directory: directory, store: store)
        return try directory.secretBox()
    }

    var summary: String {
        switch location {
        case .sqlite(let directory): return "SQLite in \(directory)"
        case .postgres: return "PostgreSQL"
        }
    }
}

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
        if let smtp = smtpUrl ?? ProcessInfo.processInfo.environment["TOLLGATE_SMTP_URL"] {
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

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @OptionGroup var databaseOptions: DatabaseOptions

    func run() async throws {
        try await databaseOptions.withStore { _ in }
        print("schema at version \(Migrator.latestVersion) (\(databaseOptions.summary))")
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage secret API keys, signing keys and the master key.",
        subcommands: [Create.self, RotateSigning.self, RotateMaster.self])

    struct RotateSigning: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing",
            abstract:
                "Make a new access-token signing key; older keys stay published in the JWKS until their tokens expire."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let now = Date()
            let key = try await databaseOptions.withStore { store in
                let box = try await databaseOptions.secretBox(store: store)
                let vault = SigningKeyVault(store: store, box: box)
                _ = try await vault.keysMakingFirst(
                    now: now, importing: KeyDirectory(dataDirectory: databaseOptions.dataDirectory))
                let key = try await vault.rotate(now: now)
                // Tokens live 15 minutes; a replaced key stays published for a day, to be safe.
                try await vault.prune(retention: 86_400, now: now)
                await databaseOptions.recordInAuditTrail(
                    store, action: "signing_key.rotated", target: "signing_key:\(key.kid)", box: box)
                return key
            }
            print(key.kid)
        }
    }

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: """
                Make a new master key and seal every sealed secret of the database again under it, in one \
                transaction (with TOLLGATE_MASTER_KEY set, the new key comes from TOLLGATE_NEW_MASTER_KEY). \
                Restart the servers afterwards: they keep the old key until then.
                """)

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let directory = KeyDirectory(dataDirectory: databaseOptions.dataDirectory)
            let resealed = try await databaseOptions.withStore { store in
                let resealed = try await MasterKeyRotation.rotate(directory: directory, store: store)
                // With the key in the environment, the new one is not there yet.
                let new = ProcessInfo.processInfo.environment["TOLLGATE_NEW_MASTER_KEY"].flatMap {
                    SecretBox(base64: $0)
                }
                let fromEnvironment = ProcessInfo.processInfo.environment["TOLLGATE_MASTER_KEY"] != nil
                await databaseOptions.recordInAuditTrail(
                    store, action: "master_key.rotated", target: nil, after: ["resealed": resealed],
                    box: fromEnvironment ? new : nil)
                return resealed
            }
            print("sealed \(resealed) secrets again under the new master key")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create a secret API key and print it (only it) on stdout; it is stored hashed and never shown again."
        )

        @Option(
            name: .customLong("scope"),
            help: "A scope to grant; repeat for several. \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
        var scopes: [String] = []
        @Option(help: "A label for the key.") var name: String?
        @OptionGroup var databaseOptions: DatabaseOptions

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            for scope in scopes where Scope(rawValue: scope) == nil {
                throw ValidationError(
                    "unknown scope \(scope); known: \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            let created = try await databaseOptions.withStore { store in
                let created = try await APIKeyService(store: store, clock: SystemClock(), forget: nil).create(
                    scopes: scopes.compactMap(Scope.init(rawValue:)), name: name)
                await databaseOptions.recordInAuditTrail(
                    store, action: "api_key.created", target: "api_key:\(created.record.id)",
                    after: ["scopes": created.record.scopes.sorted(), "name": [name].compactMap { $0 }])
                return created
            }
            print(created.secret)
        }
    }
}

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Work with catalog files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a catalog file and report every error with its key path.")

        @Argument(help: "The catalog file (YAML).") var file: String

        func run() async throws {
            do {
                let catalog = try CatalogLoader.load(contentsOf: file)
                print(
                    """
                    \(file): ok — \(catalog.plans.count) plans, \(catalog.features.count) features, \
                    \(catalog.addOns.count) add-ons, default plan \(catalog.defaultPlanId)
                    """
                )
            } catch {
                FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the database holds: rows and disk per table, and the bytes each row costs.",
        discussion: """
            idempotency_keys grows by one row per consume and is purged after the retention
            (serve --idempotency-retention-days, 1 by default): its size is the price of retries.
            """)

    @OptionGroup var databaseOptions: DatabaseOptions

    func run() async throws {
        let (sizes, outbox) = try await databaseOptions.withStore {
            (try await $0.tableSizes(), try await $0.outboxStats())
        }
        print("Database: \(databaseOptions.summary)")
        print(StatusReport.table(sizes))
        print(StatusReport.outbox(outbox, now: Date()))
    }
}

/// `tollgate status`'s table, as text.
enum StatusReport {
    static func table(_ sizes: [TableSize]) -> String {
        let header = ["table", "rows", "size", "per row"]
        let rows = sizes.map { size in
            [size.table, size.rows.formatted(), bytes(size.bytes), size.bytesPerRow.map { "\($0) B" } ?? "–"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `outbox: 3 waiting (email 2, webhook 1), oldest for 42 s; 1 failed for good`.
    static func outbox(_ stats: OutboxStats, now: Date) -> String {
        let kinds = stats.pending.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let age = Int(now.timeIntervalSince(stats.oldestPendingAt ?? now))
        let waiting =
            stats.pendingTotal == 0
            ? "nothing waiting" : "\(stats.pendingTotal) waiting (\(kinds)), oldest for \(age) s"
        return "outbox: \(waiting); \(stats.failed) failed for good"
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at the e-mail waiting or failed in the outbox, and send one again.",
        subcommands: [List.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Messages not delivered yet (newest first), or with --failed those that failed for good.")

        @Flag(help: "Only the messages that failed for good.") var failed = false
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let (entries, stats) = try await databaseOptions.withStore {
                (try await $0.outboxEntries(failedOnly: failed, limit: max(1, limit)), try await $0.outboxStats())
            }
            print(StatusReport.outbox(stats, now: Date()))
            if entries.isEmpty { print(failed ? "no failed messages" : "the outbox is empty") }
            for entry in entries {
                let state: String
                if let failedAt = entry.failedAt {
                    state = "failed \(failedAt.formatted(.iso8601)): \(entry.lastError ?? "")"
                } else if let next = entry.nextAttemptAt {
                    state = "retried \(next.formatted(.iso8601)) after: \(entry.lastError ?? "")"
                } else {
                    state = "waiting"
                }
                print(
                    "\(entry.message.id)  \(entry.message.kind)  \(entry.message.recipient)  "
                        + "attempts \(entry.attempts)  \(state)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a message back in the queue: the running server sends it at its next pass.")

        @Argument(help: "The message id (msg_…), as `tollgate outbox list` shows it.") var id: String
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let queued = try await databaseOptions.withStore { store in
                let queued = try await store.retryOutbox(id: id, at: Date())
                if queued {
                    await databaseOptions.recordInAuditTrail(store, action: "delivery.retried", target: "outbox:\(id)")
                }
                return queued
            }
            guard queued else {
                FileHandle.standardError.write(Data("tollgate: no undelivered message \(id)\n".utf8))
                throw ExitCode(1)
            }
            print("\(id) will be sent again")
        }
    }
}

struct Customers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Operate on customers.", subcommands: [SetPlan.self])

    struct SetPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-plan",
            abstract: "Move a customer (or workspace) to a plan: the manual provider, for invoiced customers."
        )

        @Argument(help: "The customer or workspace id.") var customer: String
        @Argument(help: "A plan id of the catalog.") var plan: String
        @Option(help: "Catalog file (YAML); the bundled demo catalog when omitted.") var catalog: String?
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let loaded: Catalog
            do {
                loaded = try DefaultCatalog.load(path: catalog)
            } catch {
                FileHandle.standardError.write(Data("tollgate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            // The same change as the API's and the console's (the customer directory's).
            let outcome: Result<Void, DomainError> = try await databaseOptions.withStore { store in
                let customers = CustomerDirectory(
                    catalog: loaded, store: store, clock: SystemClock(), logger: Logger(label: "tollgate"))
                do {
                    let before = try await customers.customer(id: customer).planId
                    _ = try await customers.changePlan(customerId: customer, planId: plan)
                    if before != plan {
                        await databaseOptions.recordInAuditTrail(
                            store, action: "customer.plan_changed", target: "customer:\(customer)",
                            before: ["plan": before], after: ["plan": plan])
                    }
                    return .success(())
                } catch let error as DomainError {
                    return .failure(error)
                }
            }
            if case .failure(let error) = outcome {
                let plans =
                    error.code == .planNotFound ? " (plans: \(loaded.plans.map(\.id).joined(separator: ", ")))" : ""
                FileHandle.standardError.write(Data("tollgate: \(error.message)\(plans)\n".utf8))
                throw ExitCode(1)
            }
            print("\(customer) is on plan \(plan)")
        }
    }
}

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            """
            Measure the meter and the server against baselines run at the same time; print Markdown (and append \
            it with --record).
            """
    )

    @Option(help: "Seconds per in-process figure.") var seconds = 3
    @Flag(help: "Short runs over few keys: checks that the bench works, not how fast.") var quick = false
    @Option(help: "Also measure on this PostgreSQL (postgres://user:pass@host:port/db).") var postgres: String?
    @Option(help: "Append the report to this file (e.g. BENCHMARKS.md).") var record: String?
    @Option(
        help: ArgumentHelp(
            "Only these parts (comma-separated): meter, memory, http, redis, cluster (needs --postgres), analytics, "
                + "console."))
    var only: String?
    @Option(help: "Customers of the analytics figures.") var analyticsCustomers = 100_000
    @Option(help: "Usage events of the analytics figures.") var analyticsEvents = 10_000_000
    @Option(help: "Key counts of the in-process figures (comma-separated).") var keys: String?
    @Option(help: "Concurrent callers of the in-process figures (comma-separated; 0 for none).") var callers: String?
    @Option(help: "Concurrent callers of the batch figures, 1,000 consumes per call (comma-separated; 0 for none).")
    var batchCallers: String?

    func run() async throws {
        guard seconds >= 1 else { throw ValidationError("--seconds must be 1 or more") }
        var logger = Logger(label: "tollgate.bench")
        logger.logLevel = .info
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var options = Bench.Options(executable: executable)
        options.seconds = seconds
        options.quick = quick
        options.postgresURL = postgres
        options.analyticsCustomers = analyticsCustomers
        options.analyticsEvents = analyticsEvents
        if let only { options.parts = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        if let keys { options.keyCounts = keys.split(separator: ",").compactMap { Int($0) } }
        if let callers { options.taskCounts = callers.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }
        if let batchCallers {
            options.batchTaskCounts = batchCallers.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        }
        let report = try await Bench(options: options, logger: logger).run()
        print(report)
        if let record {
            let existing =
                (try? String(contentsOfFile: record, encoding: .utf8))
                ?? "# Benchmarks\n\nAppended by `tollgate bench --record BENCHMARKS.md`.\n\n"
            try (existing + report).write(toFile: record, atomically: true, encoding: .utf8)
        }
    }
}

struct Operators: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the operator accounts of the console.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create an operator and print their one-time setup link (and nothing else) on stdout: the password "
                + "and the authenticator are chosen at that link.")

        @Option(help: "The operator's e-mail address.") var email: String
        @Option(help: "owner, admin, support or viewer.") var role = "owner"
        @Option(help: "Where the console is reached (the server's --public-url).") var url = "http://127.0.0.1:8080"
        @OptionGroup var databaseOptions: DatabaseOptions

        func validate() throws {
            guard OperatorRole(rawValue: role) != nil else {
                throw ValidationError("--role must be one of owner, admin, support, viewer")
            }
        }

        func run() async throws {
            let token = try await databaseOptions.withStore { store in
                let box = try await databaseOptions.secretBox(store: store)
                let service = OperatorService(store: store, box: box, clock: SystemClock())
                do {
                    let (created, token) = try await service.create(email: email, role: OperatorRole(rawValue: role)!)
                    await databaseOptions.recordInAuditTrail(
                        store, action: "operator.invited", target: "operator:\(created.id)",
                        after: ["email": created.email, "role": created.role.rawValue], box: box)
                    return token
                } catch let error as DomainError {
                    FileHandle.standardError.write(Data("tollgate: \(error.message)\n".utf8))
                    throw ExitCode(1)
                }
            }
            print(OperatorLinks.setup(url, token: token))
        }
    }
}
