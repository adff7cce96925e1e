import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    static let endpointColumns = """
        id, url, description, event_types, sealed_secret, sealed_previous_secret, previous_secret_expires_at_ms,
        disabled_at_ms, disabled_reason, failing_since_ms, created_at_ms, updated_at_ms
        """

    public func createWebhookEndpoint(_ endpoint: WebhookEndpointRecord) async throws {
        let e = endpoint
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO webhook_endpoints (\(unsafeRaw: Self.endpointColumns))
                VALUES (\(bind: e.id), \(bind: e.url), \(bind: e.description), \(bind: Self.typesText(e.eventTypes)),
                    \(bind: e.sealedSecret), \(bind: e.sealedPreviousSecret),
                    \(bind: e.previousSecretExpiresAt.map(Millis.from)), \(bind: e.disabledAt.map(Millis.from)),
                    \(bind: e.disabledReason), \(bind: e.failingSince.map(Millis.from)),
                    \(bind: Millis.from(e.createdAt)), \(bind: Millis.from(e.updatedAt)))
                """
            ).run()
        }
    }

    public func webhookEndpoint(id: String) async throws -> WebhookEndpointRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.endpointColumns) FROM webhook_endpoints WHERE id = \(bind: id)")
                .first().map(Self.decodeEndpoint)
        }
    }

    public func webhookEndpoints() async throws -> [WebhookEndpointRecord] {
        try await provider.read { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.endpointColumns) FROM webhook_endpoints ORDER BY created_at_ms, id"
            ).all().map(Self.decodeEndpoint)
        }
    }

    public func updateWebhookEndpoint(_ endpoint: WebhookEndpointRecord) async throws -> Bool {
        let e = endpoint
        return try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE webhook_endpoints SET url = \(bind: e.url), description = \(bind: e.description),
                    event_types = \(bind: Self.typesText(e.eventTypes)), sealed_secret = \(bind: e.sealedSecret),
                    sealed_previous_secret = \(bind: e.sealedPreviousSecret),
                    previous_secret_expires_at_ms = \(bind: e.previousSecretExpiresAt.map(Millis.from)),
                    disabled_at_ms = \(bind: e.disabledAt.map(Millis.from)),
                    disabled_reason = \(bind: e.disabledReason),
                    failing_since_ms = \(bind: e.failingSince.map(Millis.from)),
                    updated_at_ms = \(bind: Millis.from(e.updatedAt))
                WHERE id = \(bind: e.id)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func deleteWebhookEndpoint(id: String) async throws -> Bool {
        try await provider.transaction { db in
            // Messages not delivered yet would only fail: they go with it. Delivered ones stay, as history.
            try await db.raw(
                """
                DELETE FROM outbox WHERE kind = \(bind: OutboxKind.webhook) AND recipient = \(bind: id)
                    AND delivered_at_ms IS NULL
                """
            ).run()
            return try await db.raw("DELETE FROM webhook_endpoints WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }

    public func recordWebhookAttempt(_ attempt: WebhookAttemptRecord) async throws {
        let a = attempt
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO webhook_attempts (message_id, attempt, endpoint_id, at_ms, status, latency_ms, response)
                VALUES (\(bind: a.messageId), \(bind: Int64(a.attempt)), \(bind: a.endpointId),
                    \(bind: Millis.from(a.at)), \(bind: a.status.map(Int64.init)), \(bind: a.latencyMillis),
                    \(bind: a.response))
                ON CONFLICT (message_id, attempt) DO NOTHING
                """
            ).run()
        }
    }

    public func recordWebhookEndpointHealth(id: String, _ health: WebhookEndpointHealth, at date: Date) async throws {
        let millis = Millis.from(date)
        let change: SQLQueryString
        switch health {
        case .answering:
            change = "failing_since_ms = NULL"
        case .failing:
            change = "failing_since_ms = COALESCE(failing_since_ms, \(bind: millis))"
        case .disabled(let reason):
            change = "disabled_at_ms = \(bind: millis), disabled_reason = \(bind: reason)"
        }
        try await provider.transaction { db in
            try await db.raw(
                "UPDATE webhook_endpoints SET \(change), updated_at_ms = \(bind: millis) WHERE id = \(bind: id)"
            ).run()
        }
    }

    public func webhookAttempts(messageId: String) async throws -> [WebhookAttemptRecord] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT message_id, attempt, endpoint_id, at_ms, status, latency_ms, response FROM webhook_attempts
                WHERE message_id = \(bind: messageId) ORDER BY attempt
                """
            ).all().map { row in
                WebhookAttemptRecord(
                    messageId: try row.decode(column: "message_id", as: String.self),
                    endpointId: try row.decode(column: "endpoint_id", as: String.self),
                    attempt: Int(try row.decode(column: "attempt", as: Int64.self)),
                    at: Millis.date(try row.decode(column: "at_ms", as: Int64.self)),
                    status: try row.decode(column: "status", as: Int64?.self).map(Int.init),
                    latencyMillis: try row.decode(column: "latency_ms", as: Int64.self),
                    response: try row.decode(column: "response", as: String.self))
            }
        }
    }

    public func webhookMessages(endpointId: String, limit: Int) async throws -> [OutboxEntry] {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.outboxColumns) FROM outbox
                WHERE recipient = \(bind: endpointId) AND kind = \(bind: OutboxKind.webhook)
                ORDER BY created_at_ms DESC, id DESC LIMIT \(bind: limit)
                """
            ).all().map(Self.decodeOutboxEntry)
        }
    }

    public func replayWebhookMessage(id: String, at date: Date) async throws -> OutboxEntry? {
        try await provider.transaction { db in
            try await db.raw(
                """
                UPDATE outbox SET delivered_at_ms = NULL, failed_at_ms = NULL, last_error = NULL,
                    next_attempt_at_ms = \(bind: Millis.from(date)), claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(bind: id) AND kind = \(bind: OutboxKind.webhook)
                RETURNING \(unsafeRaw: Self.outboxColumns)
                """
            ).first().map(Self.decodeOutboxEntry)
        }
    }

    public func fanOut(eventId: String, into messages: [OutboxMessage], at date: Date) async throws {
        try await provider.transaction { db in
            try await Self.enqueue(db, messages, ignoringDuplicates: true)
            try await db.raw(
                """
                UPDATE outbox SET delivered_at_ms = \(bind: Millis.from(date)), last_error = NULL, claimed_by = NULL,
                    claimed_until_ms = NULL
                WHERE id = \(bind: eventId)
                """
            ).run()
        }
    }

    // MARK: Mail preferences

    public func unsubscribed(among addresses: [String]) async throws -> Set<String> {
        let lowered = addresses.map { $0.lowercased() }
        guard !lowered.isEmpty else { return [] }
        return try await provider.read { db in
            let list = SQLList(lowered.map { SQLBind($0) })
            return Set(
                try await db.raw("SELECT address FROM mail_preferences WHERE address IN (\(list))").all().map {
                    try $0.decode(column: "address", as: String.self)
                })
        }
    }

    public func setUnsubscribed(_ address: String, _ unsubscribed: Bool, at date: Date) async throws {
        let address = address.lowercased()
        try await provider.transaction { db in
            if unsubscribed {
                try await db.raw(
                    """
                    INSERT INTO mail_preferences (address, unsubscribed_at_ms) VALUES (\(bind: address),
                        \(bind: Millis.from(date)))
                    ON CONFLICT (address) DO NOTHING
                    """
                ).run()
            } else {
                try await db.raw("DELETE FROM mail_preferences WHERE address = \(bind: address)").run()
            }
        }
    }

    // MARK: Helpers

    /// Event types as one comma-separated text (types hold no commas).
    static func typesText(_ types: [String]) -> String { types.joined(separator: ",") }

    static func decodeEndpoint(_ row: any SQLRow) throws -> WebhookEndpointRecord {
        let types = try row.decode(column: "event_types", as: String.self)
        var endpoint = WebhookEndpointRecord(
            id: try row.decode(column: "id", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            description: try row.decode(column: "description", as: String?.self),
            eventTypes: types.isEmpty ? [] : types.split(separator: ",").map(String.init),
            sealedSecret: try row.decode(column: "sealed_secret", as: String.self),
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)))
        endpoint.sealedPreviousSecret = try row.decode(column: "sealed_previous_secret", as: String?.self)
        endpoint.previousSecretExpiresAt = try row.decode(column: "previous_secret_expires_at_ms", as: Int64?.self)
            .map(Millis.date)
        endpoint.disabledAt = try row.decode(column: "disabled_at_ms", as: Int64?.self).map(Millis.date)
        endpoint.disabledReason = try row.decode(column: "disabled_reason", as: String?.self)
        endpoint.failingSince = try row.decode(column: "failing_since_ms", as: Int64?.self).map(Millis.date)
        endpoint.updatedAt = Millis.date(try row.decode(column: "updated_at_ms", as: Int64.self))
        return endpoint
    }
}
