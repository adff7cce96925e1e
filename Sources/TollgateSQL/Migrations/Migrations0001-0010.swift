import SQLKit
import TollgateStorage

extension Migrations {
    static let versions1to4: [Migration] = [
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
    /// Identity: accounts, sessions, single-use tokens, recovery codes, and the outbox of effects.
    static let versions5to8: [Migration] = [
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
    /// Workspaces with roles and invitations; add-ons and seats on every billing subject.
    static let version9: [Migration] = [
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
    /// Credits: a double-entry ledger per subject and credit type.
    static let version10: [Migration] = [
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
