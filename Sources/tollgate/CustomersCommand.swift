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

struct Customers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate on customers.", subcommands: [SetPlan.self, Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Create customers from a CSV file (a header naming id, email, name, plan, locale) or a JSON Lines \
                file (.jsonl), as POST /v1/customers/batch does: each row created, already there, or refused.
                """)

        @Argument(help: "The CSV or JSON Lines file.") var file: String
        // Required: rows are checked against the server's catalog and get its default plan.
        @Option(help: "The catalog file (YAML) the server runs with.") var catalog: String
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                FileHandle.standardError.write(Data("tollgate: cannot read \(file) as UTF-8 text\n".utf8))
                throw ExitCode(1)
            }
            let report: CustomerImport.Report
            do {
                report = try await databaseOptions.withServices(catalog: catalog) { services in
                    try await CustomerImport.run(
                        text, format: CustomerImport.Format(path: file), customers: services.meter.customers)
                }
            } catch let error as DomainError {
                FileHandle.standardError.write(Data("tollgate: \(file): \(error.message)\n".utf8))
                throw ExitCode(1)
            }
            for refusal in report.refused {
                let field = refusal.error.field.map { "\($0): " } ?? ""
                FileHandle.standardError.write(
                    Data("tollgate: line \(refusal.line) \(refusal.id): \(field)\(refusal.error.message)\n".utf8))
            }
            print("\(report.created) created, \(report.existing) already there, \(report.refused.count) refused")
            if !report.refused.isEmpty { throw ExitCode(1) }
        }
    }

    struct SetPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-plan",
            abstract: "Move a customer (or workspace) to a plan: the manual provider, for invoiced customers."
        )

        @Argument(help: "The customer or workspace id.") var customer: String
        @Argument(help: "A plan id of the catalog.") var plan: String
        @Option(help: "Catalog file (YAML); the bundled demo catalog when omitted.") var catalog: String?
        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let loaded: Catalog
            do {
                loaded = try DefaultCatalog.load(path: catalog)
            } catch {
                FileHandle.standardError.write(Data("tollgate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            guard loaded.plan(plan) != nil else {
                let plans = loaded.plans.map(\.id).joined(separator: ", ")
                FileHandle.standardError.write(
                    Data("tollgate: no plan \(plan) in catalog \(loaded.product) (plans: \(plans))\n".utf8))
                throw ExitCode(1)
            }
            // The same change as the API's and the console's (the customer directory's).
            let outcome: Result<Void, DomainError> = try await databaseOptions.withServices(catalog: catalog) {
                services in
                do {
                    _ = try await services.meter.customers.changePlan(customerId: customer, planId: plan)
                    return .success(())
                } catch let error as DomainError {
                    return .failure(error)
                }
            }
            if case .failure(let error) = outcome {
                FileHandle.standardError.write(Data("tollgate: \(error.message)\n".utf8))
                throw ExitCode(1)
            }
            print("\(customer) is on plan \(plan)")
        }
    }
}
