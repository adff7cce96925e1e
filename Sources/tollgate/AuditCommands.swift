import ArgumentParser
import Foundation
import TollgateCore
import TollgateIdentity
import TollgateServer

/// `tollgate audit verify`: walks the audit trail's chain and names the first entry that was
/// edited, inserted or deleted (exit status 1), or says it is intact.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Inspect the audit trail.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that no audit entry was edited, inserted or deleted (needs the master key).")

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let result = try await databaseOptions.withServices(sealing: true) { services in
                try await services.auditTrail.verify()
            }
            print(result)
            if case .broken = result { throw ExitCode(1) }
        }
    }
}
