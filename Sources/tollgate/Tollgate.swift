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

@main
struct Tollgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate",
        abstract: "Entitlements, metering and billing for SaaS products.",
        subcommands: [
            Serve.self, Migrate.self, Status.self, Keys.self, CatalogCommand.self, Customers.self, Outbox.self,
            Operators.self, Backup.self, Restore.self, AuditCommand.self, BenchCommand.self,
        ]
    )
}
