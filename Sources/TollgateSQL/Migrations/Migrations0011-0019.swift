import SQLKit
import TollgateStorage

extension Migrations {
    /// Billing: subscriptions, provider events seen once, and provider customers.
    static let versions11to19: [Migration] = [
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
