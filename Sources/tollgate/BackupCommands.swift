import ArgumentParser
import Foundation
import Logging
import TollgateSQL
import TollgateStorage

/// `tollgate backup --to FILE`: a consistent copy of the embedded database taken while the server
/// runs, with the data directory's keys; `tollgate restore --from FILE --data-dir NEW` makes a
/// data directory from it.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back the embedded SQLite database (and its keys) up into one file, while the server runs.")

    @OptionGroup var databaseOptions: DatabaseOptions
    @Option(help: "The backup file to write (it must not exist).") var to: String

    func run() async throws {
        guard case .sqlite(let directory) = databaseOptions.location else {
            throw ValidationError("\(SQLiteBackup.Failure.notSQLite)")
        }
        let files = try Self.keyFiles(in: directory)
        do {
            try await databaseOptions.withStore { store in
                try await SQLiteBackup.write(store, to: to, files: files, logger: Logger(label: "tollgate"))
            }
        } catch let failure as SQLiteBackup.Failure {
            throw ValidationError("\(failure)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: to)[.size] as? Int) ?? 0
        print("backup written to \(to) (\(size) bytes, with \(Self.keyFiles(files.count)))")
    }

    static func keyFiles(_ count: Int) -> String { count == 1 ? "1 key file" : "\(count) key files" }

    /// The files under `<data-dir>/keys`, by path relative to the data directory.
    static func keyFiles(in directory: String) throws -> [String: Data] {
        let keys = (directory as NSString).appendingPathComponent("keys")
        var files: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: keys) else { return files }
        while let relative = walker.nextObject() as? String {
            let path = (keys as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            files["keys/" + relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return files
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a data directory (which holds no database yet) from a backup file.")

    @Option(help: "The backup file.") var from: String
    @Option(name: .customLong("data-dir"), help: "The data directory to make.") var dataDirectory: String

    func run() async throws {
        let logger = Logger(label: "tollgate")
        let restored: [String]
        do {
            restored = try await SQLiteBackup.restore(from: from, into: dataDirectory, logger: logger)
        } catch let failure as SQLiteBackup.Failure {
            throw ValidationError("\(failure)")
        }
        // Opening it checks it and applies any migration a newer binary brings.
        let store = try await SQLStore.open(.sqlite(directory: dataDirectory), logger: logger)
        await store.shutdown()
        print("restored \(from) into \(dataDirectory) (with \(Backup.keyFiles(restored.count)))")
    }
}
