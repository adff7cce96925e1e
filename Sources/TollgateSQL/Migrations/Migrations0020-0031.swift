import SQLKit
import TollgateStorage

extension Migrations {
    /// Outgoing webhooks (endpoints, the attempts log) and mail preferences.
    static let versions20to31: [Migration] = [
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
                """
                INSERT INTO revenue_daily (currency, day_ms, kind, amount_minor, movements)
                SELECT currency, at_ms - (at_ms % 86400000), kind, SUM(amount_minor), COUNT(*)
                FROM revenue_movements GROUP BY currency, at_ms - (at_ms % 86400000), kind
                """,
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
                """
                INSERT INTO trials_daily (currency, day_ms, started, ended, converted)
                SELECT currency, day_ms, SUM(started), SUM(ended), SUM(converted) FROM (
                    SELECT currency, started_at_ms - (started_at_ms % 86400000) AS day_ms, 1 AS started,
                        0 AS ended, 0 AS converted
                    FROM trials
                    UNION ALL
                    SELECT currency, ended_at_ms - (ended_at_ms % 86400000), 0, 1, COALESCE(converted, 0)
                    FROM trials WHERE ended_at_ms IS NOT NULL
                ) AS happened GROUP BY currency, day_ms
                """,
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
                """
                INSERT INTO usage_monthly (month_ms, feature, plan_id, customer_id, units, events)
                SELECT
                    CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC'))
                        * 1000 AS BIGINT),
                    feature, plan_id, customer_id, SUM(units), SUM(events)
                FROM usage_daily GROUP BY
                    CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC'))
                        * 1000 AS BIGINT),
                    feature, plan_id, customer_id
                """,
                """
                INSERT INTO usage_month_totals (month_ms, feature, plan_id, total, customers)
                SELECT month_ms, feature, plan_id, units, COUNT(*) FROM usage_monthly
                GROUP BY month_ms, feature, plan_id, units
                """,
            ],
            sqliteStatements: [
                """
                INSERT INTO usage_monthly (month_ms, feature, plan_id, customer_id, units, events)
                SELECT
                    CAST(strftime('%s', day_ms / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000,
                    feature, plan_id, customer_id, SUM(units), SUM(events)
                FROM usage_daily GROUP BY
                    CAST(strftime('%s', day_ms / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000,
                    feature, plan_id, customer_id
                """,
                """
                INSERT INTO usage_month_totals (month_ms, feature, plan_id, total, customers)
                SELECT month_ms, feature, plan_id, units, COUNT(*) FROM usage_monthly
                GROUP BY month_ms, feature, plan_id, units
                """,
            ]),
        // The consumes' usage facts, appended by each commit (one sequential insert) and folded
        // into the rollups above off the request path and before each analytics read.
        Migration(
            version: 27, name: "usage_facts", statements: [],
            postgresStatements: [
                """
                CREATE TABLE usage_facts (
                    id BIGSERIAL PRIMARY KEY, day_ms BIGINT NOT NULL, feature TEXT NOT NULL, plan_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL, outcome TEXT NOT NULL, units BIGINT NOT NULL, events BIGINT NOT NULL,
                    upgrade_tier TEXT, prompt_at_ms BIGINT
                )
                """
            ],
            sqliteStatements: [
                """
                CREATE TABLE usage_facts (
                    id INTEGER PRIMARY KEY, day_ms BIGINT NOT NULL, feature TEXT NOT NULL, plan_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL, outcome TEXT NOT NULL, units BIGINT NOT NULL, events BIGINT NOT NULL,
                    upgrade_tier TEXT, prompt_at_ms BIGINT
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
}
