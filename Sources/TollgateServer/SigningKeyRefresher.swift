import Foundation
import Logging
import ServiceLifecycle
import TollgateIdentity

/// Reloads the signing keys from the database every few seconds, so that a key rotated by
/// `tollgate keys rotate-signing` (or another node) signs and verifies here too without a restart.
struct SigningKeyRefresher: Service {
    let vault: SigningKeyVault
    let ring: SigningKeyRing
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                do {
                    // A failed read keeps the keys there are: a database hiccup must not stop sign-ins.
                    ring.replace(try await vault.keys())
                } catch {
                    logger.error("signing keys not reloaded: \(String(reflecting: error))")
                }
            }
        }
    }
}
