import Logging
import ServiceLifecycle
import TollgateStorage

/// Keeps this node's cached customers honest when any node changes one (a plan, add-ons, a
/// cap): each change is announced at commit (PostgreSQL NOTIFY) and dropped from the cache here,
/// so the next request reads it again. After a lost connection everything cached is dropped,
/// since announcements may have been missed meanwhile.
public struct CustomerChangeListener: Service {
    let feed: any ChangeFeed
    let service: Meter
    let logger: Logger

    public init(feed: any ChangeFeed, service: Meter, logger: Logger) {
        self.feed = feed
        self.service = service
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await feed.listenForCustomerChanges(
                        ready: { service.forgetAllCustomers() }, changed: { service.forget(customerId: $0) })
                } catch {
                    guard !Task.isCancelled else { return }
                    logger.warning(
                        "customer change feed lost; listening again",
                        metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
