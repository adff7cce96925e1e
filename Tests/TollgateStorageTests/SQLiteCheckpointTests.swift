import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateStorage

@testable import TollgateSQL

/// The meter's SQLite commits checkpoint off their path and keep the WAL bounded even when
/// commits never pause (a passive checkpoint alone never finds the WAL fully copied then).
@Suite struct SQLiteCheckpointTests {
    @Test func theWALStaysBoundedUnderBackToBackCommitsAndLosesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tollgate-wal-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = SQLiteProvider.CheckpointPolicy(afterPages: 50, rewindBeyondPages: 500)
        let provider = try await SQLiteProvider.open(
            directory: directory, checkpoints: policy, logger: TestDatabase.logger)
        try await Migrator.migrate(provider)
        let store = SQLStore(provider: provider)
        let walPath = directory + "/tollgate.sqlite-wal"
        let padding = String(repeating: "x", count: 900)
        var largestWAL = 0
        // ~40 MiB of idempotency records, far beyond the 2 MiB (500 pages) ceiling.
        for batch in 0..<200 {
            let entries = (0..<50).map { index in
                UsageEntry(
                    deltas: [
                        CounterDelta(
                            key: CounterKey(subject: "customer:c\(index % 7)", feature: "calls", periodStartMillis: 0),
                            period: "lifetime", periodEndMillis: nil, delta: 1)
                    ],
                    record: IdempotencyRecord(
                        scope: "consume:c\(index % 7)", key: "k\(batch)-\(index)", fingerprint: "calls|1|",
                        response: padding, createdAt: Date())
                )
            }
            let applied = try await store.commit(UsageBatch(entries: entries, at: Date()))
            #expect(applied.allSatisfy { $0 })
            let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
            largestWAL = max(largestWAL, size)
        }
        // The ceiling plus the few batches a running passive pass can delay the rewind by.
        #expect(largestWAL < 12 << 20, "the WAL reached \(largestWAL) bytes")
        await store.shutdown()
        let reopened = try await SQLStore.open(.sqlite(directory: directory), logger: TestDatabase.logger)
        var total: Int64 = 0
        for customer in 0..<7 {
            total += try await reopened.counterValue(
                CounterKey(subject: "customer:c\(customer)", feature: "calls", periodStartMillis: 0))
        }
        #expect(total == 200 * 50)
        await reopened.shutdown()
    }
}

/// A backup is written where only its owner may look, whatever the umask, and
/// moved into place once whole.
@Suite struct BackupStagingTests {
    @Test func theStagingDirectoryIsPrivateWhateverTheUmask() throws {
        let destination = NSTemporaryDirectory() + "tollgate-backup-\(UUID().uuidString).backup"
        // The widest umask a process can have: nothing is taken away.
        let previous = umask(0)
        defer { umask(previous) }
        let staging = try SQLiteBackup.privateStaging(beside: destination)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let mode = try FileManager.default.attributesOfItem(atPath: staging)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        #expect(staging.hasPrefix(destination + ".partial-"), "beside the destination: one file system")
    }
}
