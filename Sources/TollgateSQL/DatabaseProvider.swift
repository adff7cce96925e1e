import SQLKit
import TollgateStorage

/// Runs SQL on SQLite or PostgreSQL through one interface (SQLKit), so that every query above
/// this layer is written once.
public protocol DatabaseProvider: Sendable {
    var kind: DatabaseKind { get }
    /// Runs `body` on a connection that sees all committed data.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// What applies the meter's group commits on this database.
    var usageWriter: any UsageWriter { get }
    func shutdown() async
    /// Announces `payload` on `channel` when the transaction of `db` commits, to every process
    /// listening (this one included), and to this process's `announcements` at the commit itself.
    func notify(_ db: any SQLDatabase, channel: String, payload: String) async throws
    /// Calls `ready` once listening, then `received` with the payload of each notification on
    /// `channel`, until cancelled.
    /// Tells this process's listeners what its own transactions announce, as they commit.
    var announcements: CommitAnnouncements { get }
    func listen(channel: String, ready: @escaping @Sendable () -> Void, received: @escaping @Sendable (String) -> Void)
        async throws
}
