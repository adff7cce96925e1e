import Foundation
import Logging
import SQLKit
import Synchronization
import TollgateCore
import TollgateMeter
import TollgateSQL
import TollgateStorage

/// Runs an Meter over a real store, with its group committer running beside it.
public enum MeterHarness {
    public static func withService<T: Sendable>(
        store: any Storage, catalog: Catalog, clock: any TollgateClock,
        _ body: @escaping @Sendable (Meter) async throws -> T
    ) async throws -> T {
        let committer = GroupCommitter(store: store, clock: clock, logger: TestDatabase.logger)
        let service = Meter(
            customers: CustomerDirectory(catalog: catalog, store: store, clock: clock, logger: TestDatabase.logger),
            store: store, committer: committer, clock: clock)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await committer.run()
                return nil
            }
            group.addTask { try await body(service) }
            var result: T?
            while let next = try await group.next() {
                if let value = next {
                    result = value
                    group.cancelAll()
                }
            }
            return result!
        }
    }
}

/// A database whose reads or writes can be made to fail, to test that nothing is counted or
/// half-written then. Wrap a real provider: `SQLStore(provider: FlakyProvider(base: …))`.
public final class FlakyProvider: DatabaseProvider {
    public let base: any DatabaseProvider
    public let failReads = Atomic<Bool>(false)
    public let failWrites = Atomic<Bool>(false)

    public init(base: any DatabaseProvider) { self.base = base }

    public struct InjectedFailure: Error {}

    public var kind: DatabaseKind { base.kind }
    public var announcements: CommitAnnouncements { base.announcements }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if failReads.load(ordering: .relaxed) { throw InjectedFailure() }
        return try await base.read(body)
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if failWrites.load(ordering: .relaxed) { throw InjectedFailure() }
        return try await base.transaction(body)
    }

    public func shutdown() async { await base.shutdown() }

    /// The base's own writer (SQLite's C API, PostgreSQL's SQLKit), refused when writes fail.
    public var usageWriter: any UsageWriter { FlakyWriter(base: base.usageWriter, provider: self) }

    private struct FlakyWriter: UsageWriter {
        let base: any UsageWriter
        let provider: FlakyProvider

        func commit(_ batch: UsageBatch) async throws -> [Bool] {
            if provider.failWrites.load(ordering: .relaxed) { throw InjectedFailure() }
            return try await base.commit(batch)
        }
    }

    public func notify(_ db: any SQLDatabase, channel: String, payload: String) async throws {
        try await base.notify(db, channel: channel, payload: payload)
    }

    public func listen(
        channel: String, ready: @escaping @Sendable () -> Void, received: @escaping @Sendable (String) -> Void
    ) async throws {
        try await base.listen(channel: channel, ready: ready, received: received)
    }
}
