import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TollgateCore
import TollgateStorage

/// Delivers the outbox, at least once, in two lanes that never wait for each other (e-mail and
/// events, `concurrency` at once; webhooks, `webhookConcurrency` at once and each endpoint at most
/// `webhooksPerEndpoint`): claims the messages that are due (one node at a time per message, for
/// `lease`), fans events out (into webhook messages and e-mails, written before the event is
/// marked told), signs and posts webhooks, renders and sends e-mail. Each outcome is recorded:
/// delivered, retried later (on `schedule` for mail, Standard Webhooks' for webhooks), or failed
/// for good (a permanent refusal, an unreadable message, or the last attempt). A message is
/// claimed before it is sent, so a process killed mid-send sends it again once the lease runs
/// out — with the same `Message-ID` or `webhook-id`.
public struct OutboxDelivery: Service {
    public struct Settings: Sendable {
        public var tick: Duration = .seconds(1)
        public var batch = 20
        public var concurrency = 4
        /// Webhook messages of one endpoint claimed at once: a dead endpoint holds that many slots.
        public var webhooksPerEndpoint = 1
        /// Webhooks in flight at once (they wait on peers, not on this machine): this many dead
        /// endpoints can each hold a slot for their timeout and others still go out.
        public var webhookConcurrency = 16
        public var lease: Duration = .seconds(120)
        public var schedule = RetrySchedule()
        public var webhookSchedule = RetrySchedule.webhooks
        /// Told of each message handled (the server's metrics).
        public var instruments = Instruments()

        public init() {}
    }

    let store: any OutboxStore
    let transport: any MailTransport
    let renderer: MessageRenderer
    let fanOut: EventFanOut?
    let webhooks: WebhookSender?
    let clock: any TollgateClock
    let logger: Logger
    let settings: Settings
    let node: String
    let random: @Sendable () -> Double
    /// Files a mail carries besides its text (an invoice's PDF), looked up when it is sent.
    public typealias Attachments = @Sendable (OutboxMessage) async throws -> [MailMessage.Attachment]
    let attachments: Attachments?

    public init(
        store: any OutboxStore, transport: any MailTransport, renderer: MessageRenderer, fanOut: EventFanOut? = nil,
        webhooks: WebhookSender? = nil, clock: any TollgateClock, logger: Logger, settings: Settings = Settings(),
        node: String = "node-" + UUID().uuidString.prefix(8).lowercased(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        attachments: Attachments? = nil
    ) {
        self.attachments = attachments
        self.store = store
        self.transport = transport
        self.renderer = renderer
        self.fanOut = fanOut
        self.webhooks = webhooks
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
            await withTaskGroup(of: Void.self) { group in
                for lane in lanes { group.addTask { await run(lane) } }
            }
        }
    }

    var lanes: [OutboxLane] { [.mail, .webhooks(perRecipient: settings.webhooksPerEndpoint)] }

    /// A lane as the service runs it: as many messages in flight as the lane allows, a freed slot
    /// taken by the next due message at the next tick (not when the whole batch is done).
    private func run(_ lane: OutboxLane) async {
        let width = width(of: lane)
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let free = min(settings.batch, width - inFlight.count.withLock { $0 })
                var claimed: [OutboxEntry] = []
                if free > 0 {
                    do {
                        claimed = try await claim(lane, limit: free)
                    } catch  where Task.isCancelled || error is CancellationError {
                        break // shutting down: not a failure
                    } catch {
                        logger.warning("outbox: could not claim messages", metadata: ["error": "\(error)"])
                    }
                }
                inFlight.count.withLock { $0 += claimed.count }
                for entry in claimed {
                    group.addTask {
                        await deliver(entry)
                        inFlight.count.withLock { $0 -= 1 }
                    }
                }
                // A full claim means more are waiting: go on at once.
                if claimed.isEmpty || claimed.count < free { try? await Task.sleep(for: settings.tick) }
            }
        }
    }

    /// The messages of a lane being delivered now.
    private final class InFlight: Sendable {
        let count = Mutex(0)
    }

    private func width(of lane: OutboxLane) -> Int {
        switch lane {
        case .mail: return settings.concurrency
        case .webhooks: return settings.webhookConcurrency
        }
    }

    /// One pass over every lane: claims the messages due now in each (before any is sent, so what
    /// a pass fans out waits for the next) and sends them. How many were claimed.
    @discardableResult
    public func deliverDue() async throws -> Int {
        var claimed: [(lane: OutboxLane, due: [OutboxEntry])] = []
        for lane in lanes { claimed.append((lane, try await claim(lane))) }
        await withTaskGroup(of: Void.self) { group in
            for (lane, due) in claimed { group.addTask { await deliver(due, width: width(of: lane)) } }
        }
        return claimed.reduce(0) { $0 + $1.due.count }
    }

    private func claim(_ lane: OutboxLane, limit: Int? = nil) async throws -> [OutboxEntry] {
        let lease = settings.lease.components
        return try await store.claimOutbox(
            node: node, lane: lane, now: clock.now(), limit: limit ?? settings.batch,
            leaseMillis: lease.seconds * 1000 + lease.attoseconds / 1_000_000_000_000_000)
    }

    private func deliver(_ due: [OutboxEntry], width: Int) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for entry in due {
                if running == width {
                    await group.next()
                    running -= 1
                }
                group.addTask { await deliver(entry) }
                running += 1
            }
        }
    }

    /// Why a message was not delivered this time.
    struct Failure: Error {
        let reason: String
        let permanent: Bool
        var notBefore: TimeInterval? = nil
    }

    private func deliver(_ entry: OutboxEntry) async {
        let id = entry.message.id
        let kind = entry.message.kind
        let family = kind == OutboxKind.webhook ? "webhook" : kind.hasPrefix("email.") ? "email" : "event"
        let failure: Failure
        do {
            try await send(entry)
            settings.instruments.outboxDelivery(family, true)
            return
        } catch let error as Failure {
            failure = error
        } catch let MailError.permanent(reason) {
            failure = Failure(reason: reason, permanent: true)
        } catch let MessageRenderer.Failure.unreadable(reason) {
            failure = Failure(reason: reason, permanent: true)
        } catch let MailError.temporary(reason) {
            failure = Failure(reason: reason, permanent: false)
        } catch {
            failure = Failure(reason: "\(error)", permanent: false)
        }
        settings.instruments.outboxDelivery(family, false)
        let now = clock.now()
        let schedule = entry.message.kind == OutboxKind.webhook ? settings.webhookSchedule : settings.schedule
        let retryAt =
            failure.permanent
            ? nil
            : schedule.delay(afterAttempt: entry.attempts, random: random()).map {
                now.addingTimeInterval(max($0, failure.notBefore ?? 0))
            }
        logger.warning(
            "outbox: \(id) not delivered (attempt \(entry.attempts))",
            metadata: ["error": "\(failure.reason)", "retry": "\(retryAt.map { "\($0)" } ?? "never")"])
        do {
            try await store.markOutboxFailed(id: id, error: failure.reason, retryAt: retryAt, at: now)
        } catch {
            logger.warning("outbox: could not record the failure of \(id)", metadata: ["error": "\(error)"])
        }
    }

    /// Sends one message by its kind; returns once it is delivered and recorded, throws otherwise.
    private func send(_ entry: OutboxEntry) async throws {
        let message = entry.message
        if let type = OutboxEvent.type(ofKind: message.kind) {
            guard let fanOut else { throw Failure(reason: "events are not fanned out here", permanent: false) }
            let now = clock.now()
            try await fanOut.store.fanOut(
                eventId: message.id, into: try await fanOut.messages(for: message, type: type, at: now), at: now)
            return
        }
        if message.kind == OutboxKind.webhook {
            guard let webhooks else { throw Failure(reason: "webhooks are not sent from here", permanent: false) }
            switch try await webhooks.send(entry) {
            case .delivered: break
            case .failed(let reason, let after): throw Failure(reason: reason, permanent: false, notBefore: after)
            case .abandoned(let reason): throw Failure(reason: reason, permanent: true)
            }
        } else {
            var mail = try renderer.render(message)
            mail.attachments = try await attachments?(message) ?? []
            try await transport.send(mail)
        }
        do {
            try await store.markOutboxDelivered(id: message.id, at: clock.now())
        } catch {
            // Sent but not recorded: it will be sent again (same id) after its lease.
            logger.warning("outbox: \(message.id) sent, not recorded", metadata: ["error": "\(error)"])
        }
    }
}
