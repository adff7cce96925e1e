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

struct Operators: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the operator accounts of the console.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create an operator and print their one-time setup link (and nothing else) on stdout: the password "
                + "and the authenticator are chosen at that link.")

        @Option(help: "The operator's e-mail address.") var email: String
        @Option(help: "owner, admin, support or viewer.") var role = "owner"
        @Option(help: "Where the console is reached (the server's --public-url).") var url = "http://127.0.0.1:8080"
        @OptionGroup var databaseOptions: DatabaseOptions

        func validate() throws {
            guard OperatorRole(rawValue: role) != nil else {
                throw ValidationError("--role must be one of owner, admin, support, viewer")
            }
        }

        func run() async throws {
            let token = try await databaseOptions.withServices(sealing: true) { services in
                do {
                    return try await services.operators.create(email: email, role: OperatorRole(rawValue: role)!).token
                } catch let error as DomainError {
                    FileHandle.standardError.write(Data("tollgate: \(error.message)\n".utf8))
                    throw ExitCode(1)
                }
            }
            print(OperatorLinks.setup(url, token: token))
        }
    }
}
