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

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Work with catalog files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a catalog file and report every error with its key path.")

        @Argument(help: "The catalog file (YAML).") var file: String

        func run() async throws {
            do {
                let catalog = try CatalogLoader.load(contentsOf: file)
                print(
                    """
                    \(file): ok — \(catalog.plans.count) plans, \(catalog.features.count) features, \
                    \(catalog.addOns.count) add-ons, default plan \(catalog.defaultPlanId)
                    """
                )
            } catch {
                FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
