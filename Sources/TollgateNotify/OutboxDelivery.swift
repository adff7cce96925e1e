import Foundation
import Logging
import ServiceLifecycle
import TollgateCore
import TollgateStorage

/// Delivers the outbox, at least once: claims the messages that are due (one node at a time per
/// message, for `lease`), renders and sends them, at most `concurrency` at once, and records the
/// outcome: delivered, retried later on `schedule`, or failed for good (a permanent refusal, an
/// unreadable message, or the last attempt). A message is claimed before it is sent, so a process
/// killed mid-send sends it again once the lease runs out — with the same `Message-ID`.
public struct OutboxDelivery: Service {
    public struct Settings: Sendable {
        public var tick: Duration = .seconds(1)
        public var batch = 20
        public var concurrency = 4
        public var lease: Duration = .seconds(120)
        public var schedule = RetrySchedule()

        public init() {}
    }

    let store: any OutboxStore
    let transport: any MailTransport
    let renderer: MessageRenderer
    let clock: any TollgateClock
    let logger: Logger
    let settings: Settings
    let node: String
    let random: @Sendable () -> Double

    public init(
        store: any OutboxStore, transport: any MailTransport, renderer: MessageRenderer, clock: any TollgateClock,
        logger: Logger, settings: Settings = Settings(),
        node: String = "node-" + UUID().uuidString.prefix(8).lowercased(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.transport = transport
        self.renderer = renderer
        self.clock = clock
        self.logger = logger
        self.settings = settings
        self.node = node
        self.random = random
    }

    public func run() async throws {
        logger.info("e-mail goes to \(transport.destination)")
        // Stops at graceful shutdown; a send cut short is sent again after its lease.
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let claimed: Int
                do {
                    claimed = try await deliverDue()
                } catch {
                    logger.warning("outbox: could not claim messages", metadata: ["error": "\(error)"])
                    claimed = 0
                }
                // A full batch means more are waiting: go on at once.
                if claimed < settings.batch { try await Task.sleep(for: settings.tick) }
            }
        }
    }

    /// One pass: claims the messages due now and sends them. How many were claimed.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let lease = settings.lease.components
        let due = try await store.claimOutbox(
            node: node, now: clock.now(), limit: settings.batch,
            leaseMillis: lease.seconds * 1000 + lease.attoseconds / 1_000_000_000_000_000)
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for entry in due {
                if running == settings.concurrency {
                    await group.next()
                    running -= 1
                }
                group.addTask { await deliver(entry) }
                running += 1
            }
        }
        return due.count
    }

    private func deliver(_ entry: OutboxEntry) async {
        let id = entry.message.id
        let failure: (reason: String, permanent: Bool)
        do {
            try await transport.send(try renderer.render(entry.message))
            do {
                try await store.markOutboxDelivered(id: id, at: clock.now())
            } catch {
                // Sent but not recorded: it will be sent again (same Message-ID) after its lease.
                logger.warning("outbox: \(id) sent, not recorded", metadata: ["error": "\(error)"])
            }
            return
        } catch let MailError.permanent(reason) {
            failure = (reason, true)
        } catch let MessageRenderer.Failure.unreadable(reason) {
            failure = (reason, true)
        } catch let MailError.temporary(reason) {
            failure = (reason, false)
        } catch {
            failure = ("\(error)", false)
        }
        let now = clock.now()
        let retryAt =
            failure.permanent
            ? nil : settings.schedule.delay(afterAttempt: entry.attempts, random: random()).map(now.addingTimeInterval)
        logger.warning(
            "outbox: \(id) not delivered (attempt \(entry.attempts))",
            metadata: ["error": "\(failure.reason)", "retry": "\(retryAt.map { "\($0)" } ?? "never")"])
        do {
            try await store.markOutboxFailed(id: id, error: failure.reason, retryAt: retryAt, at: now)
        } catch {
            logger.warning("outbox: could not record the failure of \(id)", metadata: ["error": "\(error)"])
        }
    }
}
