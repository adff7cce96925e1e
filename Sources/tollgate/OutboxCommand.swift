import ArgumentParser
import Foundation
import Logging
import TollgateBench
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateServer
import TollgateStorage

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at the e-mail waiting or failed in the outbox, and send one again.",
        subcommands: [List.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Messages not delivered yet (newest first), or with --failed those that failed for good.")

        @Flag(help: "Only the messages that failed for good.") var failed = false
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let (entries, stats) = try await databaseOptions.withStore {
                (try await $0.outboxEntries(failedOnly: failed, limit: max(1, limit)), try await $0.outboxStats())
            }
            print(StatusReport.outbox(stats, now: Date()))
            if entries.isEmpty { print(failed ? "no failed messages" : "the outbox is empty") }
            for entry in entries {
                let state: String
                if let failedAt = entry.failedAt {
                    state = "failed \(failedAt.formatted(.iso8601)): \(entry.lastError ?? "")"
                } else if let next = entry.nextAttemptAt {
                    state = "retried \(next.formatted(.iso8601)) after: \(entry.lastError ?? "")"
                } else {
                    state = "waiting"
                }
                print(
                    "\(entry.message.id)  \(entry.message.kind)  \(entry.message.recipient)  "
                        + "attempts \(entry.attempts)  \(state)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a message back in the queue: the running server sends it at its next pass.")

        @Argument(help: "The message id (msg_…), as `tollgate outbox list` shows it.") var id: String
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let queued = try await databaseOptions.withServices { services in
                try await services.deliveries.retry(id: id)
            }
            guard queued else {
                FileHandle.standardError.write(Data("tollgate: no undelivered message \(id)\n".utf8))
                throw ExitCode(1)
            }
            print("\(id) will be sent again")
        }
    }
}
