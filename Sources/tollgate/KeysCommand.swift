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

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage secret API keys, signing keys and the master key.",
        subcommands: [Create.self, RotateSigning.self, RotateMaster.self])

    struct RotateSigning: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing",
            abstract:
                "Make a new access-token signing key; older keys stay published in the JWKS until their tokens expire."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let now = Date()
            let key = try await databaseOptions.withStore { store in
                let box = try await databaseOptions.secretBox(store: store)
                let vault = SigningKeyVault(store: store, box: box)
                _ = try await vault.keysMakingFirst(
                    now: now, importing: KeyDirectory(dataDirectory: databaseOptions.dataDirectory))
                let key = try await vault.rotate(now: now)
                // Tokens live 15 minutes; a replaced key stays published for a day, to be safe.
                try await vault.prune(retention: 86_400, now: now)
                await databaseOptions.recordInAuditTrail(
                    store, action: "signing_key.rotated", target: "signing_key:\(key.kid)", box: box)
                return key
            }
            print(key.kid)
        }
    }

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: """
                Make a new master key and seal every sealed secret of the database again under it, in one \
                transaction (with TOLLGATE_MASTER_KEY set, the new key comes from TOLLGATE_NEW_MASTER_KEY). \
                Restart the servers afterwards: they keep the old key until then.
                """)

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let directory = KeyDirectory(dataDirectory: databaseOptions.dataDirectory)
            let resealed = try await databaseOptions.withStore { store in
                let resealed = try await MasterKeyRotation.rotate(directory: directory, store: store)
                // With the key in the environment, the new one is not there yet.
                let new = ProcessInfo.processInfo.environment["TOLLGATE_NEW_MASTER_KEY"].flatMap {
                    SecretBox(base64: $0)
                }
                let fromEnvironment = ProcessInfo.processInfo.environment["TOLLGATE_MASTER_KEY"] != nil
                await databaseOptions.recordInAuditTrail(
                    store, action: "master_key.rotated", target: nil, after: ["resealed": resealed],
                    box: fromEnvironment ? new : nil)
                return resealed
            }
            print("sealed \(resealed) secrets again under the new master key")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create a secret API key and print it (only it) on stdout; it is stored hashed and never shown again."
        )

        @Option(
            name: .customLong("scope"),
            help: "A scope to grant; repeat for several. \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
        var scopes: [String] = []
        @Option(help: "A label for the key.") var name: String?
        @OptionGroup var databaseOptions: DatabaseOptions

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            for scope in scopes where Scope(rawValue: scope) == nil {
                throw ValidationError(
                    "unknown scope \(scope); known: \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            let created = try await databaseOptions.withServices { services in
                do {
                    return try await services.apiKeys.create(
                        scopes: scopes.compactMap(Scope.init(rawValue:)), name: name)
                } catch let error as DomainError {
                    FileHandle.standardError.write(Data("tollgate: \(error.field ?? "key"): \(error.message)\n".utf8))
                    throw ExitCode(1)
                }
            }
            print(created.secret)
        }
    }
}
