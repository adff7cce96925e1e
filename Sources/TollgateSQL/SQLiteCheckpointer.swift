import Dispatch
import Foundation
import Synchronization
import TollgateStorage
import VaporCSQLite

/// Copies the WAL back into the database file on a thread of its own. SQLite's automatic
/// checkpoint runs inside the commit that crosses the threshold, so that one commit (and every
/// caller waiting on it) pays for copying megabytes: the meter's p99 at half load went from
/// ~3 ms without checkpoints to ~12 ms with them. Here a commit only signals; a passive
/// checkpoint runs beside the next commits without blocking them.
///
/// Under sustained load a passive checkpoint never finds the WAL fully copied between two
/// commits, and the WAL is only rewound from its start after one does: it would grow without
/// end. Past `ceiling` pages the writer is asked to run one restarting checkpoint between two
/// of its batches (`restartIfRequested`), which waits for readers and rewinds the WAL.
final class SQLiteCheckpointer: @unchecked Sendable {
    // @unchecked: `handle` is touched only on `queue` (and in deinit).
    private let queue = DispatchQueue(label: "tollgate.sqlite.checkpointer", qos: .utility)
    private var handle: OpaquePointer?
    private let scheduled = Atomic<Bool>(false)
    private let restartRequested = Atomic<Bool>(false)
    /// WAL pages (4 KiB) that start a checkpoint.
    let threshold: Int32
    /// Beyond this many WAL pages, the writer rewinds the WAL (see `restartIfRequested`).
    let ceiling: Int32

    init(path: String, pragmas: [String], threshold: Int32, ceiling: Int32) throws {
        self.threshold = threshold
        self.ceiling = ceiling
        handle = try SQLiteHandle.open(path: path, pragmas: pragmas)
    }

    deinit {
        sqlite_nio_sqlite3_close(handle)
    }

    /// Called after a commit with the WAL's size in pages: schedules one checkpoint at a time.
    func walGrew(to pages: Int32) {
        if pages > ceiling { restartRequested.store(true, ordering: .relaxed) }
        guard pages >= threshold, !restartRequested.load(ordering: .relaxed),
            scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        queue.async {
            self.scheduled.store(false, ordering: .releasing)
            self.checkpoint()
        }
    }

    private func checkpoint() {
        guard let handle else { return }
        var walPages: Int32 = 0, copied: Int32 = 0
        // Passive: copies what it can without taking the write lock; repeated while commits
        // made during the last pass left frames behind and it still makes progress.
        var (previous, passes): (Int32, Int) = (-1, 0)
        while passes < 8, !restartRequested.load(ordering: .relaxed),
            sqlite_nio_sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &walPages, &copied)
                == SQLITE_OK,
            copied < walPages, copied != previous
        {
            (previous, passes) = (copied, passes + 1)
        }
    }

    /// Rewinds the WAL on `connection` (the writer's, between two of its batches) if it passed
    /// `ceiling`; passive passes stand aside meanwhile, as a running one makes it fail.
    func restartIfRequested(on connection: OpaquePointer) {
        guard restartRequested.load(ordering: .relaxed), Self.restart(connection) else { return }
        restartRequested.store(false, ordering: .relaxed)
    }

    /// Copies what is left and rewinds the WAL, on the writer's own connection while it holds
    /// the write turn (so no writer starves it). Waits for readers (busy timeout).
    /// False when it could not run now (a passive pass held the checkpoint lock): ask again.
    @discardableResult
    static func restart(_ connection: OpaquePointer) -> Bool {
        var walPages: Int32 = 0, copied: Int32 = 0
        return sqlite_nio_sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_RESTART, &walPages, &copied)
            == SQLITE_OK
    }

    /// Registers `self` as the WAL hook of `connection` (which disables its automatic
    /// checkpoint). `self` must outlive the connection's use.
    func watch(_ connection: OpaquePointer) {
        _ = sqlite_nio_sqlite3_wal_hook(
            connection,
            { context, _, _, pages in
                guard let context else { return SQLITE_OK }
                Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: pages)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                sqlite_nio_sqlite3_close(self.handle)
                self.handle = nil
                continuation.resume()
            }
        }
    }
}

/// Opening a raw connection with settings, shared by the usage writer and the checkpointer.
enum SQLiteHandle {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func open(path: String, pragmas: [String]) throws -> OpaquePointer {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        guard sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let opened = handle else {
            let message =
                handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "out of memory"
            sqlite_nio_sqlite3_close(handle)
            throw Failure(description: "cannot open \(path): \(message)")
        }
        for pragma in pragmas where sqlite_nio_sqlite3_exec(opened, pragma, nil, nil, nil) != SQLITE_OK {
            let error = Failure(description: "\(pragma): \(String(cString: sqlite_nio_sqlite3_errmsg(opened)))")
            sqlite_nio_sqlite3_close(opened)
            throw error
        }
        return opened
    }
}
