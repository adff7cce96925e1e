import SQLKit
import TollgateStorage

extension Migrations {
    /// The operator console: operators, their sessions and what they did; each
    /// customer's current status kept beside it, so a listing filters and counts without
    /// reading the history.
    static let version32: [Migration] = [
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
    /// Trust: the audit trail (a chain of keyed hashes with its head) and keys sealed in the database.
    static let versions33to35: [Migration] = [
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
