import SQLKit
import TollgateStorage

/// One numbered schema change. The SQL is written once and is valid on SQLite and PostgreSQL
/// (TEXT, BIGINT and composite primary keys mean the same on both). Never edit a shipped one.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    /// Run on PostgreSQL only, after `statements`: what only it has (a BRIN index).
    var postgresStatements: [String] = []
    /// Run on SQLite only, after `statements`: what stands in for a PostgreSQL feature.
    var sqliteStatements: [String] = []
}

enum Migrations {
    static let all: [Migration] =
        core + identity + workspaces + credits + billing + notifications + console + trust

    static let core: [Migration] = [
        Migration(
            version: 1, name: "customers",
            statements: [
                """
                CREATE TABLE customers (
                    id TEXT PRIMARY KEY,
                    email TEXT,
                    name TEXT,
                    plan_id TEXT NOT NULL,
                    billing_anchor_ms BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            version: 2, name: "api_keys",
            statements: [
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    prefix TEXT NOT NULL,
                    secret_hash TEXT NOT NULL UNIQUE,
                    scopes TEXT NOT NULL,
                    name TEXT,
                    created_at_ms BIGINT NOT NULL,
                    expires_at_ms BIGINT,
                    last_used_at_ms BIGINT,
                    revoked_at_ms BIGINT
                )
                """
            ]),
        Migration(
            version: 3, name: "usage_counters",
            statements: [
                """
                CREATE TABLE usage_counters (
                    subject TEXT NOT NULL,
                    feature TEXT NOT NULL,
                    period_start_ms BIGINT NOT NULL,
                    period_end_ms BIGINT,
                    period TEXT NOT NULL,
                    used BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (subject, feature, period_start_ms)
                )
                """
            ]),
        Migration(
            version: 4, name: "idempotency_keys",
            statements: [
                """
                CREATE TABLE idempotency_keys (
                    scope TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    response TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (scope, idempotency_key)
                )
                """
            ]),
    ]
}

/// Applies pending migrations, each in its own transaction. Safe when several processes start at
/// once: PostgreSQL takes an advisory lock, SQLite's `BEGIN IMMEDIATE` already serializes writers.
public enum Migrator {
    @discardableResult
    public static func migrate(_ provider: any DatabaseProvider) async throws -> [Int] {
        try await provider.transaction { db in
            try await db.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                applied_at_ms BIGINT NOT NULL)
                """
            ).run()
        }
        var applied: [Int] = []
        for migration in Migrations.all {
            let didApply = try await provider.transaction { db -> Bool in
                if provider.kind == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(7315)").run()
                }
                let existing = try await db.raw(
                    "SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)"
                ).first()
                if existing != nil { return false }
                do {
                    for statement in migration.statements
                        + (provider.kind == .postgres ? migration.postgresStatements : migration.sqliteStatements)
                    {
                        try await db.raw(SQLQueryString(statement)).run()
                    }
                } catch {
                    throw StoreError.migrationFailed(version: migration.version, underlying: String(reflecting: error))
                }
                try await db.raw(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at_ms)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Millis.now()))
                    """
                ).run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    public static var latestVersion: Int { Migrations.all.last?.version ?? 0 }
}

extension Migrations {
    /// Identity: accounts, sessions, single-use tokens, recovery codes, and the outbox of effects.
    static let identity: [Migration] = [
        Migration(
            version: 5, name: "users",
            statements: [
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    email_verified_at_ms BIGINT,
                    totp_secret TEXT,
                    totp_enabled_at_ms BIGINT,
                    totp_last_step BIGINT,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            version: 6, name: "sessions",
            statements: [
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    last_used_at_ms BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    revoked_at_ms BIGINT,
                    user_agent TEXT,
                    ip TEXT
                )
                """,
                "CREATE INDEX sessions_by_user ON sessions (user_id)",
                """
                CREATE TABLE refresh_tokens (
                    token_hash TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    spent_at_ms BIGINT
                )
                """,
            ]),
        Migration(
            version: 7, name: "user_tokens_and_recovery_codes",
            statements: [
                """
                CREATE TABLE user_tokens (
                    token_hash TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    used_at_ms BIGINT
                )
                """,
                """
                CREATE TABLE recovery_codes (
                    user_id TEXT NOT NULL,
                    code_hash TEXT NOT NULL,
                    used_at_ms BIGINT,
                    PRIMARY KEY (user_id, code_hash)
                )
                """,
            ]),
        Migration(
            version: 8, name: "outbox",
            statements: [
                """
                CREATE TABLE outbox (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    delivered_at_ms BIGINT,
                    attempts BIGINT NOT NULL DEFAULT 0
                )
                """
            ]),
    ]
}

extension Migrations {
    /// Workspaces with roles and invitations; add-ons and seats on every billing subject.
    static let workspaces: [Migration] = [
        Migration(
            version: 9, name: "workspaces",
            statements: [
                """
                CREATE TABLE workspaces (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE workspace_members (
                    workspace_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    role TEXT NOT NULL,
                    joined_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (workspace_id, user_id)
                )
                """,
                "CREATE INDEX workspace_members_by_user ON workspace_members (user_id)",
                """
                CREATE TABLE workspace_invitations (
                    id TEXT PRIMARY KEY,
                    workspace_id TEXT NOT NULL,
                    email TEXT NOT NULL,
                    role TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    invited_by TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    accepted_at_ms BIGINT
                )
                """,
                "ALTER TABLE sessions ADD COLUMN workspace_id TEXT",
                "ALTER TABLE customers ADD COLUMN add_ons TEXT NOT NULL DEFAULT '{}'",
                "ALTER TABLE customers ADD COLUMN seats BIGINT",
            ])
    ]
}

extension Migrations {
    /// Credits: a double-entry ledger per subject and credit type.
    static let credits: [Migration] = [
        Migration(
            version: 10, name: "credits",
            statements: [
                """
                CREATE TABLE credit_accounts (
                    subject TEXT NOT NULL,
                    credit_type TEXT NOT NULL,
                    balance BIGINT NOT NULL,
                    overdrawn BIGINT NOT NULL,
                    last_seq BIGINT NOT NULL,
                    PRIMARY KEY (subject, credit_type)
                )
                """,
                """
                CREATE TABLE credit_grants (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    credit_type TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    remaining BIGINT NOT NULL,
                    priority BIGINT NOT NULL,
                    expires_at_ms BIGINT,
                    reason TEXT NOT NULL,
                    reference TEXT,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX credit_grants_by_account ON credit_grants (subject, credit_type)",
                """
                CREATE TABLE credit_transactions (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    credit_type TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    delta BIGINT NOT NULL,
                    balance_after BIGINT NOT NULL,
                    reason TEXT NOT NULL,
                    reference TEXT,
                    created_at_ms BIGINT NOT NULL,
                    UNIQUE (subject, credit_type, seq)
                )
                """,
                """
                CREATE TABLE credit_lines (
                    transaction_id TEXT NOT NULL,
                    line_no BIGINT NOT NULL,
                    account TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    PRIMARY KEY (transaction_id, line_no)
                )
                """,
                """
                CREATE TABLE credit_reservations (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    credit_type TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    status TEXT NOT NULL,
                    committed_amount BIGINT,
                    expires_at_ms BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    settled_at_ms BIGINT
                )
                """,
                "CREATE INDEX credit_reservations_by_account ON credit_reservations (subject, credit_type, status)",
            ])
    ]
}

extension Migrations {
    /// Billing: subscriptions, provider events seen once, and provider customers.
    static let billing: [Migration] = [
        Migration(
            version: 11, name: "subscriptions",
            statements: [
                """
                CREATE TABLE subscriptions (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    plan_id TEXT NOT NULL,
                    billing_interval TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    seats BIGINT,
                    status TEXT NOT NULL,
                    current_period_start_ms BIGINT NOT NULL,
                    current_period_end_ms BIGINT NOT NULL,
                    trial_end_ms BIGINT,
                    cancel_at_period_end BIGINT NOT NULL,
                    canceled_at_ms BIGINT,
                    past_due_since_ms BIGINT,
                    pending_plan_id TEXT,
                    has_payment_method BIGINT NOT NULL,
                    version_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX subscriptions_by_subject ON subscriptions (subject)",
                """
                CREATE TABLE webhook_events (
                    provider TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (provider, event_id)
                )
                """,
                """
                CREATE TABLE provider_customers (
                    provider TEXT NOT NULL,
                    provider_customer_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    PRIMARY KEY (provider, provider_customer_id)
                )
                """,
            ]),
        Migration(
            version: 12, name: "subscription_add_ons_and_invoice_items",
            statements: [
                "ALTER TABLE subscriptions ADD COLUMN add_ons TEXT NOT NULL DEFAULT '{}'",
                // Charges waiting for the subject's next invoice (prorations, overage), each once per reference.
                """
                CREATE TABLE invoice_items (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    description TEXT NOT NULL,
                    amount_minor BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    reference TEXT NOT NULL,
                    invoice_id TEXT,
                    created_at_ms BIGINT NOT NULL,
                    UNIQUE (subject, reference)
                )
                """,
                "CREATE INDEX invoice_items_pending ON invoice_items (subject, invoice_id)",
            ]),
        Migration(
            version: 13, name: "spend_caps_and_invoices",
            statements: [
                "ALTER TABLE customers ADD COLUMN spend_cap_minor BIGINT",
                "ALTER TABLE customers ADD COLUMN spend_cap_currency TEXT",
                // Invoices Tollgate issues itself (the manual provider); numbered per database.
                """
                CREATE TABLE invoices (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    subscription_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    period_start_ms BIGINT NOT NULL,
                    period_end_ms BIGINT NOT NULL,
                    lines TEXT NOT NULL,
                    total_minor BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    UNIQUE (subscription_id, period_start_ms)
                )
                """,
                "CREATE INDEX invoices_by_subject ON invoices (subject, period_start_ms)",
            ]),
        // Quota leases of nodes sharing one database: units each may still consume from memory.
        Migration(
            version: 14, name: "counter_leases",
            statements: [
                """
                CREATE TABLE counter_leases (
                    subject TEXT NOT NULL,
                    feature TEXT NOT NULL,
                    period_start_ms BIGINT NOT NULL,
                    node TEXT NOT NULL,
                    outstanding BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (subject, feature, period_start_ms, node)
                )
                """,
                "CREATE INDEX counter_leases_by_node ON counter_leases (node)",
            ]),
        // Old idempotency records are purged by age. On SQLite rowid order is age order; on
        // PostgreSQL a BRIN index (a few pages, nearly free to maintain for rows appended in
        // time order) finds them without slowing the meter's inserts.
        Migration(
            version: 15, name: "idempotency_keys_by_age", statements: [],
            postgresStatements: [
                "CREATE INDEX idempotency_keys_by_age ON idempotency_keys USING BRIN (created_at_ms)"
            ]),
        // PostgreSQL's NOTIFY for SQLite: another process on the same file (a CLI command beside
        // the server) appends here in the transaction of its change; the server polls for it.
        Migration(
            version: 16, name: "notifications", statements: [],
            sqliteStatements: [
                """
                CREATE TABLE notifications (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL
                )
                """
            ]),
        // Every password-reset request is recorded, for a known address or not, so both answers
        // cost the same write (the difference told which addresses have accounts).
        Migration(
            version: 17, name: "password_reset_requests",
            statements: [
                """
                CREATE TABLE password_reset_requests (
                    email_digest TEXT NOT NULL,
                    requested_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX password_reset_requests_by_time ON password_reset_requests (requested_at_ms)",
            ]),
        // Delivery of the outbox: when a message is next tried, why it last failed, when it failed
        // for good, and which node holds it until when (one sender at a time, across nodes).
        Migration(
            version: 18, name: "outbox_delivery",
            statements: [
                "ALTER TABLE outbox ADD COLUMN next_attempt_at_ms BIGINT",
                "ALTER TABLE outbox ADD COLUMN last_error TEXT",
                "ALTER TABLE outbox ADD COLUMN failed_at_ms BIGINT",
                "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
                "ALTER TABLE outbox ADD COLUMN claimed_until_ms BIGINT",
                """
                CREATE INDEX outbox_pending ON outbox (created_at_ms)
                WHERE delivered_at_ms IS NULL AND failed_at_ms IS NULL
                """,
            ]),
        // A refusal of a leased consume is remembered until this time, so copies of the request
        // on other nodes answer alike (LeaseStore.recordRefusal); past it the key is free again.
        Migration(
            version: 19, name: "idempotency_refusals",
            statements: ["ALTER TABLE idempotency_keys ADD COLUMN expires_at_ms BIGINT"]),
    ]
}

extension Migrations {
    /// Outgoing webhooks (endpoints, the attempts log) and mail preferences.
    static let notifications: [Migration] = [
        Migration(
            version: 20, name: "webhooks",
            statements: [
                """
                CREATE TABLE webhook_endpoints (
                    id TEXT PRIMARY KEY,
                    url TEXT NOT NULL,
                    description TEXT,
                    event_types TEXT NOT NULL,
                    sealed_secret TEXT NOT NULL,
                    sealed_previous_secret TEXT,
                    previous_secret_expires_at_ms BIGINT,
                    disabled_at_ms BIGINT,
                    disabled_reason TEXT,
                    failing_since_ms BIGINT,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE webhook_attempts (
                    message_id TEXT NOT NULL,
                    attempt BIGINT NOT NULL,
                    endpoint_id TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    status BIGINT,
                    latency_ms BIGINT NOT NULL,
                    response TEXT NOT NULL,
                    PRIMARY KEY (message_id, attempt)
                )
                """,
                "CREATE INDEX outbox_by_recipient ON outbox (recipient, created_at_ms)",
                """
                CREATE TABLE mail_preferences (
                    address TEXT PRIMARY KEY,
                    unsubscribed_at_ms BIGINT NOT NULL
                )
                """,
            ]),
        // The language of mail to a customer (and to the user who is that customer).
        Migration(version: 21, name: "customer_locale", statements: ["ALTER TABLE customers ADD COLUMN locale TEXT"]),
        // Every change of a customer's MRR, per currency, written with the subscription change
        // that causes it: the revenue analytics read these, not the subscriptions.
        Migration(
            version: 22, name: "revenue_movements",
            statements: [
                """
                CREATE TABLE revenue_movements (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    amount_minor BIGINT NOT NULL,
                    mrr_before BIGINT NOT NULL,
                    mrr_after BIGINT NOT NULL,
                    plan_id TEXT NOT NULL,
                    at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX revenue_movements_by_time ON revenue_movements (currency, at_ms)",
                "CREATE INDEX revenue_movements_by_subject ON revenue_movements (subject, currency)",
            ]),
        // Trials as they start and end (converted: the subscription went on paid), for the
        // revenue report's trial figures.
        Migration(
            version: 23, name: "trials",
            statements: [
                """
                CREATE TABLE trials (
                    subscription_id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    plan_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    started_at_ms BIGINT NOT NULL,
                    ended_at_ms BIGINT,
                    converted INTEGER
                )
                """,
                "CREATE INDEX trials_by_start ON trials (currency, started_at_ms)",
            ]),
        // The analytics of customers, usage and activity: a daily usage rollup written
        // by each consume's commit, tracked product events with their daily rollup, and every
        // customer's plan and status over time (backfilled from the present state: before this
        // migration, only that is known).
        Migration(
            version: 24, name: "analytics",
            statements: [
                """
                CREATE TABLE usage_daily (
                    day_ms BIGINT NOT NULL,
                    feature TEXT NOT NULL,
                    plan_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    units BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    upgrade_tier TEXT,
                    prompt_at_ms BIGINT,
                    PRIMARY KEY (day_ms, feature, plan_id, customer_id, outcome)
                )
                """,
                """
                CREATE TABLE tracked_events (
                    customer_id TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    name TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    properties TEXT NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (customer_id, idempotency_key)
                )
                """,
                """
                CREATE TABLE activity_daily (
                    day_ms BIGINT NOT NULL,
                    name TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    events BIGINT NOT NULL,
                    PRIMARY KEY (day_ms, name, customer_id)
                )
                """,
                """
                CREATE TABLE customer_states (
                    customer_id TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    plan_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    PRIMARY KEY (customer_id, at_ms)
                )
                """,
                """
                INSERT INTO customer_states (customer_id, at_ms, plan_id, status)
                SELECT id, created_at_ms, plan_id, COALESCE((
                    SELECT CASE WHEN status IN ('inactive', 'canceled') THEN 'canceled' ELSE status END
                    FROM subscriptions WHERE subscriptions.subject = customers.id
                    ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'past_due' THEN 1 WHEN 'trialing' THEN 2 ELSE 3 END
                    LIMIT 1), 'free')
                FROM customers
                """,
            ]),
        // Daily rollups of the revenue movements and trials: the revenue report reads
        // a few rows per day however many customers there are. Filled from the history.
        Migration(
            version: 25, name: "revenue_rollups",
            statements: [
                """
                CREATE TABLE revenue_daily (
                    currency TEXT NOT NULL,
                    day_ms BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    amount_minor BIGINT NOT NULL,
                    movements BIGINT NOT NULL,
                    PRIMARY KEY (currency, day_ms, kind)
                )
                """,
                SQLStore.fillRevenueDaily,
                """
                CREATE TABLE trials_daily (
                    currency TEXT NOT NULL,
                    day_ms BIGINT NOT NULL,
                    started BIGINT NOT NULL,
                    ended BIGINT NOT NULL,
                    converted BIGINT NOT NULL,
                    PRIMARY KEY (currency, day_ms)
                )
                """,
                SQLStore.fillTrialsDaily,
            ]),
        // The usage report of a calendar month from a distribution of customers by their month's
        // total, kept by the fold of the usage facts (a few rows per feature and plan, however
        // many customers), and its refusals through a partial index.
        Migration(
            version: 26, name: "usage_monthly",
            statements: [
                """
                CREATE TABLE usage_monthly (
                    month_ms BIGINT NOT NULL,
                    feature TEXT NOT NULL,
                    plan_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    units BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    PRIMARY KEY (month_ms, feature, plan_id, customer_id)
                )
                """,
                """
                CREATE TABLE usage_month_totals (
                    month_ms BIGINT NOT NULL,
                    feature TEXT NOT NULL,
                    plan_id TEXT NOT NULL,
                    total BIGINT NOT NULL,
                    customers BIGINT NOT NULL,
                    PRIMARY KEY (month_ms, feature, plan_id, total)
                )
                """,
                // Covering: the refusals, customers at the limit and upgrade prompts of a window
                // are read from the index alone.
                """
                CREATE INDEX usage_daily_refusals
                ON usage_daily (day_ms, feature, plan_id, outcome, customer_id, events, prompt_at_ms)
                WHERE outcome <> 'allowed'
                """,
            ],
            postgresStatements: [
                SQLStore.fillUsageMonthly(.postgres),
                SQLStore.fillUsageMonthTotals,
            ],
            sqliteStatements: [
                SQLStore.fillUsageMonthly(.sqlite),
                SQLStore.fillUsageMonthTotals,
            ]),
        // The consumes' usage facts, appended by each commit (one sequential insert) and folded
        // into the rollups above off the request path and before each analytics read.
        Migration(
            version: 27, name: "usage_facts", statements: [],
            postgresStatements: [
                """
                CREATE TABLE usage_facts (
                    id BIGSERIAL PRIMARY KEY, \(SQLStore.usageFactColumns)
                )
                """
            ],
            sqliteStatements: [
                """
                CREATE TABLE usage_facts (
                    id INTEGER PRIMARY KEY, \(SQLStore.usageFactColumns)
                )
                """
            ]),
        // Invoices with a life: drafts, then numbered documents with VAT. The table is
        // rebuilt as ad-hoc invoices have no subscription; invoices issued before it were sent as
        // they were: they stay open, without a number.
        Migration(
            version: 28, name: "invoice_lifecycle",
            statements: [
                "DROP INDEX invoices_by_subject",
                "ALTER TABLE invoices RENAME TO invoices_v1",
                """
                CREATE TABLE invoices (
                    id TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    subscription_id TEXT,
                    status TEXT NOT NULL,
                    number TEXT UNIQUE,
                    currency TEXT NOT NULL,
                    period_start_ms BIGINT,
                    period_end_ms BIGINT,
                    lines TEXT NOT NULL,
                    parties TEXT,
                    subtotal_minor BIGINT NOT NULL,
                    tax_minor BIGINT NOT NULL,
                    total_minor BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    finalized_at_ms BIGINT,
                    due_at_ms BIGINT,
                    paid_at_ms BIGINT,
                    voided_at_ms BIGINT,
                    uncollectible_at_ms BIGINT,
                    UNIQUE (subscription_id, period_start_ms)
                )
                """,
                """
                INSERT INTO invoices (id, subject, subscription_id, status, currency, period_start_ms, period_end_ms,
                    lines, subtotal_minor, tax_minor, total_minor, created_at_ms, finalized_at_ms, due_at_ms)
                SELECT id, subject, subscription_id, 'open', currency, period_start_ms, period_end_ms, lines,
                    total_minor, 0, total_minor, created_at_ms, created_at_ms, created_at_ms
                FROM invoices_v1
                """,
                "DROP TABLE invoices_v1",
                "CREATE INDEX invoices_by_subject ON invoices (subject, created_at_ms)",
                "CREATE INDEX invoices_by_finalization ON invoices (finalized_at_ms) WHERE finalized_at_ms IS NOT NULL",
                // One row per series and period (a year, or 0 without a yearly reset): the last
                // number issued. Finalizing increments it under its row lock, in its transaction.
                """
                CREATE TABLE document_counters (
                    series TEXT NOT NULL,
                    period INTEGER NOT NULL,
                    last_issued BIGINT NOT NULL,
                    PRIMARY KEY (series, period)
                )
                """,
                """
                CREATE TABLE billing_details (
                    customer_id TEXT PRIMARY KEY,
                    legal_name TEXT NOT NULL,
                    address_lines TEXT NOT NULL,
                    postal_code TEXT NOT NULL,
                    city TEXT NOT NULL,
                    country TEXT NOT NULL,
                    vat_number TEXT,
                    payment_terms_days INTEGER NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                "ALTER TABLE invoice_items ADD COLUMN quantity BIGINT NOT NULL DEFAULT 1",
                "ALTER TABLE invoice_items ADD COLUMN unit_amount_minor BIGINT",
                // The order charges were added in, per customer (ties of created_at_ms): lines follow it.
                "ALTER TABLE invoice_items ADD COLUMN position BIGINT NOT NULL DEFAULT 0",
            ]),
        // Credit notes: numbered corrections of finalized invoices, in their own series.
        Migration(
            version: 29, name: "credit_notes",
            statements: [
                """
                CREATE TABLE credit_notes (
                    id TEXT PRIMARY KEY,
                    number TEXT NOT NULL UNIQUE,
                    invoice_id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    lines TEXT NOT NULL,
                    subtotal_minor BIGINT NOT NULL,
                    tax_minor BIGINT NOT NULL,
                    total_minor BIGINT NOT NULL,
                    reason TEXT,
                    memo TEXT,
                    reference TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    UNIQUE (invoice_id, reference)
                )
                """,
                "CREATE INDEX credit_notes_by_time ON credit_notes (created_at_ms)",
                "ALTER TABLE invoices ADD COLUMN credited_minor BIGINT NOT NULL DEFAULT 0",
            ]),
        // Payment reminders of open invoices past due.
        Migration(
            version: 30, name: "invoice_reminders",
            statements: [
                "ALTER TABLE invoices ADD COLUMN reminders_sent INTEGER NOT NULL DEFAULT 0",
                "CREATE INDEX invoices_open_by_due ON invoices (due_at_ms) WHERE status = 'open'",
            ]),
        // Stripe's invoices mirrored read-only beside Tollgate's own: who issued each,
        // Stripe's page for it, and the version (event time) of the state kept.
        Migration(
            version: 31, name: "stripe_invoice_mirror",
            statements: [
                "ALTER TABLE invoices ADD COLUMN provider TEXT NOT NULL DEFAULT 'manual'",
                "ALTER TABLE invoices ADD COLUMN hosted_url TEXT",
                "ALTER TABLE invoices ADD COLUMN provider_version_ms BIGINT",
            ]),
    ]

    /// The operator console: operators, their sessions and what they did; each
    /// customer's current status kept beside it, so a listing filters and counts without
    /// reading the history.
    static let console: [Migration] = [
        Migration(
            version: 32, name: "operators",
            statements: [
                """
                CREATE TABLE operators (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    password_hash TEXT,
                    sealed_totp_secret TEXT,
                    totp_last_step BIGINT,
                    setup_token_digest TEXT UNIQUE,
                    setup_expires_at_ms BIGINT,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE operator_sessions (
                    digest TEXT PRIMARY KEY,
                    operator_id TEXT NOT NULL,
                    csrf_token TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    last_seen_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id)",
                """
                CREATE TABLE operator_actions (
                    id TEXT PRIMARY KEY,
                    operator_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    before_json TEXT,
                    after_json TEXT,
                    ip TEXT,
                    at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX operator_actions_by_time ON operator_actions (at_ms)",
                "ALTER TABLE customers ADD COLUMN status TEXT NOT NULL DEFAULT 'free'",
                """
                UPDATE customers SET status = COALESCE((
                    SELECT status FROM customer_states WHERE customer_states.customer_id = customers.id
                    ORDER BY at_ms DESC LIMIT 1), 'free')
                """,
                "CREATE INDEX customers_by_created ON customers (created_at_ms, id)",
                "CREATE INDEX customers_by_status ON customers (status, created_at_ms)",
                "CREATE INDEX customers_by_plan ON customers (plan_id, created_at_ms)",
                "CREATE INDEX customers_by_email ON customers (COALESCE(email, ''), id)",
                "CREATE INDEX usage_daily_by_customer ON usage_daily (customer_id, day_ms)",
                // The console's recently sent e-mails.
                "CREATE INDEX outbox_delivered ON outbox (delivered_at_ms) WHERE delivered_at_ms IS NOT NULL",
            ])
    ]
}

extension Migrations {
    /// Trust: the audit trail (a chain of keyed hashes with its head) and keys sealed in the database.
    static let trust: [Migration] = [
        Migration(
            version: 33, name: "audit trail, sealed keys, shared throttles",
            statements: [
                """
                CREATE TABLE audit_events (
                    seq BIGINT PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    at_ms BIGINT NOT NULL,
                    actor_kind TEXT NOT NULL,
                    actor_id TEXT,
                    action TEXT NOT NULL,
                    target TEXT,
                    workspace_id TEXT,
                    ip TEXT,
                    user_agent TEXT,
                    before_json TEXT,
                    after_json TEXT,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_events_by_time ON audit_events (at_ms)",
                "CREATE INDEX audit_events_by_actor ON audit_events (actor_id, seq)",
                "CREATE INDEX audit_events_by_target ON audit_events (target, seq)",
                "CREATE INDEX audit_events_by_workspace ON audit_events (workspace_id, seq)",
                """
                CREATE TABLE audit_head (
                    id BIGINT PRIMARY KEY,
                    last_seq BIGINT NOT NULL,
                    last_hash TEXT NOT NULL,
                    pruned_seq BIGINT NOT NULL,
                    pruned_hash TEXT NOT NULL,
                    code TEXT NOT NULL
                )
                """,
                """
                INSERT INTO audit_head (id, last_seq, last_hash, pruned_seq, pruned_hash, code)
                VALUES (1, 0, '', 0, '', '')
                """,
                """
                CREATE TABLE rate_buckets (
                    key TEXT PRIMARY KEY,
                    level BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE attempt_failures (
                    key TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    subject TEXT
                )
                """,
                "CREATE INDEX attempt_failures_by_key ON attempt_failures (key, at_ms)",
                "CREATE INDEX attempt_failures_by_time ON attempt_failures (at_ms)",
                """
                CREATE TABLE sealed_keys (
                    name TEXT PRIMARY KEY,
                    sealed TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL
                )
                """,
            ]),
        Migration(
            version: 34, name: "e-mail change tokens",
            statements: ["ALTER TABLE user_tokens ADD COLUMN data TEXT"]),
        // A key minted through the API shares its maker's rate-limit bucket.
        Migration(
            version: 35, name: "shared key buckets",
            statements: ["ALTER TABLE api_keys ADD COLUMN rate_bucket TEXT"]),
    ]
}
