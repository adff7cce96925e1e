import Foundation
import TollgateCore

/// Times are stored as UTC milliseconds since 1970: the same integer on both databases.
public enum Millis {
    /// Whole milliseconds, rounded down — except that a date made from milliseconds (`date(_:)`)
    /// gives them back exactly, which a plain floor of a binary fraction does not always do.
    public static func from(_ date: Date) -> Int64 {
        let millis = date.timeIntervalSince1970 * 1000
        let nearest = millis.rounded()
        return Int64(abs(millis - nearest) < 0.001 ? nearest : millis.rounded(.down))
    }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    public static func now() -> Int64 { from(Date()) }
}

public protocol HealthCheck: Sendable {
    /// Throws unless the database answers a query now.
    func ping() async throws
}

/// Several changes made as one: a service writes its change, the change's outbox event and its
/// audit entry through the stores handed to `body`, and they commit together or not at all.
public protocol TransactionalStorage: Sendable {
    /// Runs `body` in one transaction, handing it the stores bound to that transaction: committed
    /// if it returns, rolled back if it throws. Inside, use only those stores (the database's
    /// writer is held: another store's write would wait for it); a transaction opened inside
    /// joins this one.
    func transaction<T: Sendable>(_ body: @Sendable (any Storage) async throws -> T) async throws -> T
}

/// Everything the server needs from storage, for the one place that assembles the services;
/// each service asks for the narrow protocols it uses.
public typealias Storage = CustomerStore & APIKeyStore & UsageStore & IdentityStore & WorkspaceStore & CreditStore
    & BillingStore & HealthCheck & ChangeFeed & LeaseStore & CatalogReferenceStore & OutboxStore
    & WebhookStore & MailPreferenceStore & AnalyticsStore & InvoiceStore & OperatorStore & CustomerListingStore
    & AuditStore & SealedKeyStore & RateLimitStore & AttemptStore & TransactionalStorage & ReadModel

public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// Where the data lives, parsed from the command line.
public enum DatabaseLocation: Sendable, Equatable {
    /// A SQLite file inside this directory (created when missing).
    case sqlite(directory: String)
    /// A `postgres://user:pass@host:port/db` URL.
    case postgres(url: String)
}
