import Foundation
import Logging
import SQLKit
import TollgateCore
import TollgateStorage

/// The one storage implementation: the same SQL on SQLite and PostgreSQL through SQLKit.
public final class SQLStore: Storage {
    public let provider: any DatabaseProvider

    public init(provider: any DatabaseProvider) {
        self.provider = provider
    }

    /// Opens the database at `location` and applies pending migrations.
    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> SQLStore {
        let provider: any DatabaseProvider
        switch location {
        case .sqlite(let directory): provider = try await SQLiteProvider.open(directory: directory, logger: logger)
        case .postgres(let url): provider = try PostgresProvider(url: url, logger: logger)
        }
        do {
            try await Migrator.migrate(provider)
        } catch {
            await provider.shutdown()
            throw error
        }
        return SQLStore(provider: provider)
    }

    public func shutdown() async { await provider.shutdown() }

    /// The channel on which a change to a customer (plan, add-ons, seats, cap) is announced,
    /// with the customer's id, so other nodes (or, on SQLite, the server beside a CLI command)
    /// drop what they cached.
    public static let customerChannel = "tollgate_customer_changed"

    /// Announces, at commit, that a customer changed (within the transaction that changed it).
    func announceCustomerChange(_ db: any SQLDatabase, id: String) async throws {
        try await provider.notify(db, channel: Self.customerChannel, payload: id)
    }

    public func whenCustomerChangeCommits(_ changed: @escaping @Sendable (String) -> Void) {
        provider.announcements.onCommit(channel: Self.customerChannel, changed)
    }

    public func listenForCustomerChanges(
        ready: @escaping @Sendable () -> Void, changed: @escaping @Sendable (String) -> Void
    ) async throws {
        try await provider.listen(channel: Self.customerChannel, ready: ready, received: changed)
    }

    // MARK: CatalogReferenceStore

    public func catalogReferences() async throws -> CatalogReferences {
        try await provider.read { db in
            var references = CatalogReferences()
            for row in try await db.raw("SELECT DISTINCT plan_id FROM customers").all() {
                references.plans.insert(try row.decode(column: "plan_id", as: String.self))
            }
            let subscriptions = try await db.raw(
                "SELECT DISTINCT plan_id, pending_plan_id FROM subscriptions WHERE status <> 'canceled'"
            ).all()
            for row in subscriptions {
                references.plans.insert(try row.decode(column: "plan_id", as: String.self))
                if let pending = try row.decode(column: "pending_plan_id", as: String?.self) {
                    references.plans.insert(pending)
                }
            }
            for row in try await db.raw("SELECT DISTINCT add_ons FROM customers WHERE add_ons <> '{}'").all() {
                let addOns = try JSONDecoder().decode(
                    [String: Int].self, from: Data(try row.decode(column: "add_ons", as: String.self).utf8))
                references.addOns.formUnion(addOns.filter { $0.value > 0 }.keys)
            }
            for row in try await db.raw("SELECT DISTINCT feature FROM usage_counters").all() {
                references.features.insert(try row.decode(column: "feature", as: String.self))
            }
            return references
        }
    }

    // MARK: HealthCheck

    public func ping() async throws {
        try await provider.read { db in
            _ = try await db.raw("SELECT 1 AS one").first()
        }
    }

    // MARK: CustomerStore

    /// Inserts the customer unless the id is taken, and tells `customer.created` when it was not;
    /// whether it did.
    static func insertCustomer(_ customer: CustomerRecord, on db: any SQLDatabase) async throws -> Bool {
        let inserted =
            try await db.raw(
                """
                INSERT INTO customers (\(unsafeRaw: newCustomerColumns)) VALUES \(newCustomerRow(customer))
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """
            ).first() != nil
        guard inserted else { return false }
        try await recordCustomerState(
            db, customerId: customer.id, at: Millis.from(customer.createdAt), planId: customer.planId, status: .free)
        try await enqueue(db, [try customerCreated(customer)], ignoringDuplicates: true)
        return true
    }

    static let newCustomerColumns = "id, email, name, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms, locale"

    /// A new customer's values, in the order of `newCustomerColumns`.
    static func newCustomerRow(_ customer: CustomerRecord) -> SQLQueryString {
        """
        (\(bind: customer.id), \(bind: customer.email), \(bind: customer.name), \(bind: customer.planId),
            \(bind: Millis.from(customer.billingAnchor)), \(bind: Millis.from(customer.createdAt)),
            \(bind: Millis.from(customer.updatedAt)), \(bind: customer.locale))
        """
    }

    static func customerCreated(_ customer: CustomerRecord) throws -> OutboxMessage {
        try OutboxEvent.message(
            id: EventIds.derive("customer.created", customer.id), type: "customer.created",
            subject: Subject.customer(customer.id), data: CustomerEventData(customer), at: customer.createdAt)
    }

    public func createCustomer(_ customer: CustomerRecord) async throws -> CustomerCreation {
        try await provider.transaction { db in
            if try await Self.insertCustomer(customer, on: db) { return .created(customer) }
            guard let existing = try await Self.customer(db, id: customer.id) else {
                throw StoreError.invalidConfiguration("customer \(customer.id) vanished during creation")
            }
            return .existing(existing)
        }
    }

    public func customer(id: String) async throws -> CustomerRecord? {
        try await provider.read { db in try await Self.customer(db, id: id) }
    }

    public func changePlan(customerId: String, planId: String, at: Date) async throws -> CustomerRecord? {
        return try await provider.transaction { db in
            guard let before = try await Self.customer(db, id: customerId) else { return nil }
            let row = try await db.raw(
                """
                UPDATE customers SET plan_id = \(bind: planId), billing_anchor_ms = \(bind: Millis.from(at)),
                    \(Self.advancedUpdate(at))
                WHERE id = \(bind: customerId)
                RETURNING \(unsafeRaw: Self.customerColumns)
                """
            ).first()
            if let after = try row.map(Self.decodeCustomer), before.planId != planId {
                try await Self.recordCustomerState(
                    db, customerId: customerId, at: Millis.from(after.updatedAt), planId: planId, status: nil)
                try await Self.enqueue(
                    db,
                    [
                        try OutboxEvent.message(
                            id: OutboxEvent.uniqueId(), type: "customer.plan_changed",
                            subject: Subject.customer(customerId),
                            data: PlanChangeEventData(
                                customerId: customerId, plan: planId, previousPlan: before.planId,
                                version: Millis.from(after.updatedAt)),
                            at: after.updatedAt)
                    ])
            }
            try await self.announceCustomerChange(db, id: customerId)
            return try row.map(Self.decodeCustomer)
        }
    }

    /// `updated_at_ms` moved to `at`, and always forward: each change of a customer gets a later
    /// time than the one before (even within a millisecond), which its events carry as their version.
    static func advancedUpdate(_ at: Date) -> SQLQueryString {
        let millis = Millis.from(at)
        return
            "updated_at_ms = CASE WHEN updated_at_ms >= \(bind: millis) THEN updated_at_ms + 1 ELSE \(bind: millis) END"
    }

    public func setAddOns(customerId: String, addOns: [String: Int], seats: Int?, at: Date) async throws
        -> CustomerRecord?
    {
        let encoded = String(decoding: try JSONEncoder().encode(addOns), as: UTF8.self)
        return try await provider.transaction { db in
            let row = try await db.raw(
                """
                UPDATE customers SET add_ons = \(bind: encoded), seats = \(bind: seats), \(Self.advancedUpdate(at))
                WHERE id = \(bind: customerId)
                RETURNING \(unsafeRaw: Self.customerColumns)
                """
            ).first()
            try await self.announceCustomerChange(db, id: customerId)
            return try row.map(Self.decodeCustomer)
        }
    }

    public func setSpendCap(customerId: String, cap: Money?, at: Date) async throws -> CustomerRecord? {
        return try await provider.transaction { db in
            let row = try await db.raw(
                """
                UPDATE customers SET spend_cap_minor = \(bind: cap?.amountMinor),
                    spend_cap_currency = \(bind: cap?.currency.code), \(Self.advancedUpdate(at))
                WHERE id = \(bind: customerId)
                RETURNING \(unsafeRaw: Self.customerColumns)
                """
            ).first()
            try await self.announceCustomerChange(db, id: customerId)
            return try row.map(Self.decodeCustomer)
        }
    }

    public func setProfile(customerId: String, name: String?, locale: String?, at: Date) async throws
        -> CustomerRecord?
    {
        try await provider.transaction { db in
            let row = try await db.raw(
                """
                UPDATE customers SET name = COALESCE(\(bind: name), name), locale = COALESCE(\(bind: locale), locale),
                    \(Self.advancedUpdate(at))
                WHERE id = \(bind: customerId)
                RETURNING \(unsafeRaw: Self.customerColumns)
                """
            ).first()
            try await self.announceCustomerChange(db, id: customerId)
            return try row.map(Self.decodeCustomer)
        }
    }

    static let customerColumns =
        """
        id, email, name, plan_id, billing_anchor_ms, created_at_ms, updated_at_ms, add_ons, seats, \
        spend_cap_minor, spend_cap_currency, locale
        """

    static func customer(_ db: any SQLDatabase, id: String) async throws -> CustomerRecord? {
        let row = try await db.raw(
            """
            SELECT \(unsafeRaw: customerColumns) FROM customers WHERE id = \(bind: id)
            """
        ).first()
        return try row.map(decodeCustomer)
    }

    static func decodeCustomer(_ row: any SQLRow) throws -> CustomerRecord {
        let addOns = try JSONDecoder().decode(
            [String: Int].self, from: Data(try row.decode(column: "add_ons", as: String.self).utf8))
        var customer = CustomerRecord(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String?.self),
            name: try row.decode(column: "name", as: String?.self),
            planId: try row.decode(column: "plan_id", as: String.self),
            billingAnchor: Millis.date(try row.decode(column: "billing_anchor_ms", as: Int64.self)),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            updatedAt: Millis.date(try row.decode(column: "updated_at_ms", as: Int64.self)),
            addOns: addOns,
            seats: try row.decode(column: "seats", as: Int?.self),
            spendCap: try row.decode(column: "spend_cap_minor", as: Int64?.self).flatMap { amount in
                (try? row.decode(column: "spend_cap_currency", as: String?.self)).flatMap { $0.flatMap(Currency.init) }
                    .map { Money(amount, $0) }
            }
        )
        customer.locale = try row.decode(column: "locale", as: String?.self)
        return customer
    }

    // MARK: APIKeyStore

    public func insertAPIKey(_ key: APIKeyRecord) async throws {
        try await provider.transaction { db in try await Self.insertAPIKey(db, key) }
    }

    static func insertAPIKey(_ db: any SQLDatabase, _ key: APIKeyRecord) async throws {
        try await db.raw(
            """
            INSERT INTO api_keys (id, prefix, secret_hash, scopes, name, created_at_ms, expires_at_ms, last_used_at_ms,
                revoked_at_ms, rate_bucket)
            VALUES (\(bind: key.id), \(bind: key.prefix), \(bind: key.secretHash),
                \(bind: key.scopes.joined(separator: " ")),
                    \(bind: key.name), \(bind: Millis.from(key.createdAt)), \(bind: key.expiresAt.map(Millis.from)),
                    \(bind: key.lastUsedAt.map(Millis.from)), \(bind: key.revokedAt.map(Millis.from)),
                    \(bind: key.rateBucket))
            """
        ).run()
    }

    static let apiKeyColumns =
        """
        id, prefix, secret_hash, scopes, name, created_at_ms, expires_at_ms, last_used_at_ms, revoked_at_ms, \
        rate_bucket
        """

    public func apiKey(secretHash: String) async throws -> APIKeyRecord? {
        try await provider.read { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.apiKeyColumns) FROM api_keys WHERE secret_hash = \(bind: secretHash)"
            )
            .first().map(Self.decodeAPIKey)
        }
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.apiKeyColumns) FROM api_keys WHERE id = \(bind: id)").first()
                .map(Self.decodeAPIKey)
        }
    }

    public func listAPIKeys() async throws -> [APIKeyRecord] {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.apiKeyColumns) FROM api_keys ORDER BY created_at_ms DESC, id")
                .all().map(Self.decodeAPIKey)
        }
    }

    public func revokeAPIKey(id: String, at: Date) async throws -> APIKeyRecord? {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, \(bind: Millis.from(at)))
                    WHERE id = \(bind: id)
                RETURNING \(unsafeRaw: Self.apiKeyColumns)
                """
            ).first().map(Self.decodeAPIKey)
        }
    }

    public func rotateAPIKey(id: String, replacement: APIKeyRecord, oldExpiresAt: Date) async throws -> APIKeyRecord? {
        try await provider.transaction { db in
            let expiry = Millis.from(oldExpiresAt)
            let old = try await db.raw(
                """
                UPDATE api_keys SET expires_at_ms = CASE WHEN expires_at_ms IS NULL OR expires_at_ms > \(bind: expiry)
                    THEN \(bind: expiry) ELSE expires_at_ms END
                WHERE id = \(bind: id) AND revoked_at_ms IS NULL
                RETURNING \(unsafeRaw: Self.apiKeyColumns)
                """
            ).first().map(Self.decodeAPIKey)
            guard old != nil else { return nil }
            try await Self.insertAPIKey(db, replacement)
            return old
        }
    }

    static func decodeAPIKey(_ row: any SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.decode(column: "id", as: String.self),
            prefix: try row.decode(column: "prefix", as: String.self),
            secretHash: try row.decode(column: "secret_hash", as: String.self),
            scopes: try row.decode(column: "scopes", as: String.self).split(separator: " ").map(String.init),
            name: try row.decode(column: "name", as: String?.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            expiresAt: try row.decode(column: "expires_at_ms", as: Int64?.self).map(Millis.date),
            lastUsedAt: try row.decode(column: "last_used_at_ms", as: Int64?.self).map(Millis.date),
            revokedAt: try row.decode(column: "revoked_at_ms", as: Int64?.self).map(Millis.date),
            rateBucket: try row.decode(column: "rate_bucket", as: String?.self)
        )
    }

    public func markAPIKeyUsed(id: String, at: Date) async throws {
        try await provider.transaction { db in
            try await db.raw("UPDATE api_keys SET last_used_at_ms = \(bind: Millis.from(at)) WHERE id = \(bind: id)")
                .run()
        }
    }
}
