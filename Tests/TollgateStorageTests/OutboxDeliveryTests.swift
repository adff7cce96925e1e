import AsyncHTTPClient
import Foundation
import Glibc
import NIOCore
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// A transport that answers from a script (fail temporarily, refuse for good, accept) and keeps
/// what it was given: the unit tests' peer; the file mailbox and Python's mail parser are the real one.
final class ScriptedTransport: MailTransport {
    enum Answer { case accept, temporary, permanent }
    /// Per recipient, the answers to give in turn (then accept): sends run concurrently.
    private let script: Mutex<[String: [Answer]]>
    let sent = Mutex<[MailMessage]>([])

    init(_ script: [String: [Answer]] = [:]) { self.script = Mutex(script) }

    var destination: String { "the test" }

    func send(_ message: MailMessage) async throws {
        let answer = script.withLock { script -> Answer in
            guard var answers = script[message.to], !answers.isEmpty else { return .accept }
            defer { script[message.to] = answers }
            return answers.removeFirst()
        }
        switch answer {
        case .accept: sent.withLock { $0.append(message) }
        case .temporary: throw MailError.temporary("421 try later")
        case .permanent: throw MailError.permanent("550 no such mailbox")
        }
    }
}

@Suite struct OutboxDeliveryTests {
    static let start = Fixtures.utc(2026, 5, 14)
    static let settings = MailSettings(
        productName: "Memento", from: "Memento <no-reply@memento.example>",
        linkBase: URL(string: "https://app.memento.example")!)
    // The shipped templates; a build without them fails every test here, loudly.
    static let templates = try! MailTemplates.bundled()
    static let renderer = MessageRenderer(settings: settings, box: TestKeys.box, templates: templates)

    static func message(_ index: Int, at date: Date = start) throws -> OutboxMessage {
        let payload = String(
            decoding: try JSONEncoder().encode(["sealedToken": try TestKeys.box.sealToken("tok-\(index)")]),
            as: UTF8.self)
        return OutboxMessage(
            id: "msg_\(index)", kind: "email.reset_password", recipient: "u\(index)@example.com", payload: payload,
            createdAt: date)
    }

    static func delivery(
        _ store: SQLStore, _ transport: any MailTransport, clock: ManualClock, node: String = "a",
        schedule: RetrySchedule = RetrySchedule(base: 30, maximumDelay: 3600, maximumAttempts: 3, jitter: 0)
    ) -> OutboxDelivery {
        var settings = OutboxDelivery.Settings()
        settings.schedule = schedule
        settings.lease = .seconds(60)
        return OutboxDelivery(
            store: store, transport: transport, renderer: Self.renderer,
            clock: clock, logger: TestDatabase.logger, settings: settings, node: node, random: { 0.5 })
    }

    @Test(arguments: TestDatabase.all)
    func failuresAreRetriedOnTheScheduleAndPermanentOnesStop(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Self.start)
            try await store.enqueueOutbox([try Self.message(1), try Self.message(2)])
            // msg_1: refused for now, then accepted; msg_2: no such mailbox.
            let transport = ScriptedTransport(["u1@example.com": [.temporary], "u2@example.com": [.permanent]])
            let delivery = Self.delivery(store, transport, clock: clock)
            #expect(try await delivery.deliverDue() == 2)
            #expect(try await delivery.deliverDue() == 0, "the first retry is 30 s away")
            let failed = try await store.outboxEntries(failedOnly: true, limit: 10)
            #expect(failed.map(\.message.id) == ["msg_2"] && failed.first?.lastError == "550 no such mailbox")
            #expect(
                try await store.outboxStats()
                    == OutboxStats(pending: ["email": 1], failed: 1, oldestPendingAt: Self.start))
            clock.advance(by: 30)
            #expect(try await delivery.deliverDue() == 1)
            #expect(transport.sent.withLock { $0.map(\.to) } == ["u1@example.com"])
            let waiting = try await store.outboxEntries(failedOnly: false, limit: 10)
            #expect(waiting.map(\.message.id) == ["msg_2"], "msg_1 is delivered")
            // An operator puts msg_2 back: it is tried again at once.
            #expect(try await store.retryOutbox(id: "msg_2", at: clock.now()))
            #expect(try await delivery.deliverDue() == 1)
            #expect(try await store.outboxEntries(failedOnly: false, limit: 10).isEmpty)
            // A delivered message no longer carries its sealed token.
            #expect(try await store.outboxMessages(recipient: "u1@example.com").first?.payload == "{}")
        }
    }

    @Test(arguments: TestDatabase.all)
    func theLastAttemptFailsForGoodAndAClaimIsHeldForItsLease(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Self.start)
            try await store.enqueueOutbox([try Self.message(1)])
            let delivery = Self.delivery(
                store, ScriptedTransport(["u1@example.com": [.temporary, .temporary, .temporary]]), clock: clock)
            // A node that claimed and died: nobody else takes the message within the lease.
            #expect(
                try await store.claimOutbox(node: "dead", lane: .mail, now: clock.now(), limit: 10, leaseMillis: 60_000)
                    .count == 1)
            #expect(try await delivery.deliverDue() == 0)
            clock.advance(by: 60)
            #expect(try await delivery.deliverDue() == 1) // attempt 2 (the dead node's was 1): retried in 60 s
            clock.advance(by: 60)
            #expect(try await delivery.deliverDue() == 1) // attempt 3 of 3: failed for good
            clock.advance(by: 3600)
            #expect(try await delivery.deliverDue() == 0)
            let failed = try await store.outboxEntries(failedOnly: true, limit: 10)
            #expect(failed.first?.attempts == 3 && failed.first?.failedAt != nil)
        }
    }

    /// Two nodes draining one queue at once send every message exactly once.
    @Test(arguments: TestDatabase.all)
    func twoNodesNeverSendOneMessageTwice(database: TestDatabase) async throws {
        try await database.withStore { store, location in
            let clock = ManualClock(Self.start)
            try await store.enqueueOutbox(try (0..<60).map { try Self.message($0) })
            let second = try await SQLStore.open(location.location, logger: TestDatabase.logger)
            let (one, two) = (ScriptedTransport(), ScriptedTransport())
            do {
                let nodes = [
                    Self.delivery(store, one, clock: clock, node: "a"),
                    Self.delivery(second, two, clock: clock, node: "b"),
                ]
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for node in nodes {
                        group.addTask { while try await node.deliverDue() > 0 {} }
                    }
                    try await group.waitForAll()
                }
            } catch {
                await second.shutdown()
                throw error
            }
            await second.shutdown()
            let sent = one.sent.withLock { $0.map(\.messageID) } + two.sent.withLock { $0.map(\.messageID) }
            #expect(sent.count == 60 && Set(sent).count == 60)
        }
    }

    /// The demo's mailbox and a real mail reader: the verification mail of a new account, read by
    /// Python's email package, carries a link whose token verifies the address.
    @Test(arguments: TestDatabase.all)
    func theVerificationMailReadByAMailProgramVerifiesTheAddress(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Self.start)
            let accounts = AccountService(
                settings: AccountSettings(audience: "memento"), store: store, keys: TestKeys.ring, box: TestKeys.box,
                clock: clock, defaultPlan: "basic")
            try await accounts.register(
                email: "élodie@exemple.fr", password: "correct horse battery staple",
                client: ClientInfo(address: "127.0.0.1", userAgent: nil))
            let user = try #require(try await store.user(email: "élodie@exemple.fr"))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let delivery = Self.delivery(store, try FileMailbox(directory: directory), clock: clock)
            #expect(try await delivery.deliverDue() == 2, "the verification mail, and customer.created for webhooks")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.hasSuffix(".eml")
            }
            #expect(files.count == 1)
            let file = try #require(files.first)
            let read = try await PeerProcess.run(
                try PythonPeers.interpreter,
                [Repository.path("Tests/peers/read_mail.py"), directory.appendingPathComponent(file).path])
            #expect(read.status == 0, "\(read.stderr)")
            let mail = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String])
            #expect(mail["subject"] == "Confirm your e-mail address for Memento")
            #expect(mail["to"] == "<élodie@exemple.fr>" || mail["to"] == "élodie@exemple.fr")
            #expect(mail["contentType"] == "multipart/alternative")
            #expect(mail["messageId"]?.hasPrefix("<msg_") == true)
            let text = try #require(mail["text"])
            let link = try #require(
                text.split(separator: "\n").first { $0.hasPrefix("https://app.memento.example/verify-email?token=") })
            let token = try #require(
                URLComponents(string: String(link))?.queryItems?.first { $0.name == "token" }?.value)
            #expect(mail["html"]?.contains(String(link).replacingOccurrences(of: "&", with: "&amp;")) == true)
            try await accounts.verifyEmail(token: token)
            #expect(try await store.user(id: user.id)?.emailVerifiedAt != nil)
        }
    }

    @Test func subjectsBeyondASCIIAreEncodedWordsAndHTMLIsEscaped() throws {
        let mail = MailMessage(
            from: "Mémento <no-reply@memento.example>", to: "a@example.com",
            subject: "Réinitialisez votre mot de passe",
            text: "x", html: "<p>x</p>", messageID: "msg_1@tollgate.local", date: Self.start)
        let rendered = mail.rendered
        #expect(rendered.contains("Subject: =?UTF-8?B?"))
        #expect(rendered.contains("From: =?UTF-8?B?TcOpbWVudG8=?= <no-reply@memento.example>\r\n"))
        #expect(!rendered.contains("Réinitialisez"), "no raw UTF-8 in the headers")
        #expect(rendered.split(separator: "\r\n", omittingEmptySubsequences: false).allSatisfy { $0.utf8.count <= 998 })
        var invitation = try Self.message(1)
        invitation = OutboxMessage(
            id: "msg_9", kind: "email.workspace_invitation", recipient: "a@example.com",
            payload: String(
                decoding: try JSONEncoder().encode([
                    "sealedToken": try TestKeys.box.sealToken("t"), "workspaceName": "<script>alert(1)</script>",
                    "workspaceId": "ws1", "role": "MEMBER",
                ]), as: UTF8.self),
            createdAt: Self.start)
        let html = try Self.renderer.render(invitation).html
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;"))
    }

    /// A workspace name whose specials sit inside grapheme clusters (a prepended mark before `<`,
    /// a combining mark after `"`) arrives as text in the invitation's HTML, its button included.
    @Test func markupHiddenInGraphemeClustersStaysTextInMail() throws {
        let name = "\u{600}<a href=\"https://evil.example\"\u{301}>x</a>"
        let invitation = OutboxMessage(
            id: "msg_10", kind: "email.workspace_invitation", recipient: "a@example.com",
            payload: String(
                decoding: try JSONEncoder().encode([
                    "sealedToken": try TestKeys.box.sealToken("t"), "workspaceName": name, "workspaceId": "ws1",
                    "role": "MEMBER",
                ]), as: UTF8.self),
            createdAt: Self.start)
        let mail = try Self.renderer.render(invitation)
        #expect(!mail.html.contains("evil.example\""), "no attribute of the name's")
        let anchors = mail.html.components(separatedBy: "<a ").count - 1
        #expect(anchors == 1, "only the Join button is a link")
        #expect(mail.html.contains("\u{600}&lt;a href=&quot;https://evil.example&quot;\u{301}&gt;x&lt;/a&gt;"))
        #expect(mail.text.contains(name), "the text part says the name as it is")
    }

    /// Each lane claims its own messages: the mail lane transactional mail first, the webhook lane
    /// at most its share of each endpoint, oldest first.
    @Test(arguments: TestDatabase.all)
    func lanesClaimTheirOwnTransactionalMailFirstAndAnEndpointItsShare(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            var messages: [OutboxMessage] = []
            for (index, endpoint) in ["we_a", "we_a", "we_a", "we_b", "we_b"].enumerated() {
                messages.append(
                    OutboxMessage(
                        id: "msg_hook\(index)", kind: OutboxKind.webhook, recipient: endpoint, payload: "{}",
                        createdAt: Self.start.addingTimeInterval(Double(index))))
            }
            messages.append(
                OutboxMessage(
                    id: "msg_welcome", kind: "email.welcome", recipient: "a@example.com", payload: "{}",
                    createdAt: Self.start.addingTimeInterval(10)))
            messages.append(try Self.message(1, at: Self.start.addingTimeInterval(20)))
            try await store.enqueueOutbox(messages)
            let now = Self.start.addingTimeInterval(60)
            let urgent = try await store.claimOutbox(node: "n", lane: .mail, now: now, limit: 1, leaseMillis: 60_000)
            #expect(urgent.map(\.message.id) == ["msg_1"], "the reset link before the older welcome")
            let hooks = try await store.claimOutbox(
                node: "n", lane: .webhooks(perRecipient: 1), now: now, limit: 10, leaseMillis: 60_000)
            #expect(hooks.map(\.message.id) == ["msg_hook0", "msg_hook3"])
            let whileInFlight = try await store.claimOutbox(
                node: "n", lane: .webhooks(perRecipient: 1), now: now, limit: 10, leaseMillis: 60_000)
            #expect(whileInFlight.isEmpty, "each endpoint has its one message in flight")
            let rest = try await store.claimOutbox(node: "n", lane: .mail, now: now, limit: 10, leaseMillis: 60_000)
            #expect(rest.map(\.message.id) == ["msg_welcome"])
            // A share of two: one more of each endpoint while the first is in flight.
            let next = try await store.claimOutbox(
                node: "n", lane: .webhooks(perRecipient: 2), now: now, limit: 10, leaseMillis: 60_000)
            #expect(next.map(\.message.id) == ["msg_hook1", "msg_hook4"])
            // Once the leases end, what is left is due again.
            let later = try await store.claimOutbox(
                node: "n", lane: .webhooks(perRecipient: 1), now: now.addingTimeInterval(61), limit: 10,
                leaseMillis: 60_000)
            #expect(later.map(\.message.id) == ["msg_hook0", "msg_hook3"])
        }
    }

    /// Ten webhook endpoints that never answer, then a sign-up's mail: the mail leaves while every
    /// webhook attempt is still waiting for its endpoint.
    @Test func mailLeavesWhileEveryWebhookEndpointHangs() async throws {
        try await TestDatabase.sqlite.withStore { store, _ in
            // One listener per endpoint: as endpoints on ten hosts would be (the client keeps at
            // most eight connections to one host).
            let silent = try (0..<10).map { _ in try SilentListener() }
            defer { for listener in silent { listener.close() } }
            let clock = ManualClock(Self.start)
            var messages: [OutboxMessage] = []
            for index in 0..<10 {
                try await store.createWebhookEndpoint(
                    WebhookEndpointRecord(
                        id: "we_\(index)", url: "http://127.0.0.1:\(silent[index].port)/hook", description: nil,
                        eventTypes: [],
                        sealedSecret: try TestKeys.box.sealToken(
                            "whsec_" + Data(repeating: UInt8(index), count: 24).base64EncodedString()),
                        createdAt: Self.start))
                for attempt in 0..<3 {
                    messages.append(
                        OutboxMessage(
                            id: "msg_hook\(index)_\(attempt)", kind: OutboxKind.webhook, recipient: "we_\(index)",
                            payload: "{}", createdAt: Self.start.addingTimeInterval(-60)))
                }
            }
            try await store.enqueueOutbox(messages)
            let transport = SignallingTransport()
            var webhookSettings = WebhookSender.Settings()
            webhookSettings.policy = WebhookURLPolicy(allowPrivate: true)
            webhookSettings.timeout = .seconds(600)
            let client = WebhookSender.makeClient()
            var settings = OutboxDelivery.Settings()
            settings.tick = .milliseconds(50)
            let delivery = OutboxDelivery(
                store: store, transport: transport, renderer: Self.renderer,
                webhooks: WebhookSender(
                    store: store, box: TestKeys.box, client: client, clock: clock, settings: webhookSettings,
                    logger: TestDatabase.logger),
                clock: clock, logger: TestDatabase.logger, settings: settings)
            let running = Task { try await delivery.run() }
            // Every endpoint holds one attempt, none answered; then someone signs up.
            // Bounded, so a regression fails here instead of holding the run until CI's limit.
            var held: [Int32] = []
            for listener in silent { held += try await withDeadline(seconds: 120) { await listener.accepted(1) } }
            try await store.enqueueOutbox([try Self.message(1)])
            let mail = try await withDeadline(seconds: 120) { await transport.first() }
            #expect(mail?.to == "u1@example.com")
            let attempts = try await store.outboxEntries(failedOnly: false, limit: 100).filter {
                $0.message.kind == OutboxKind.webhook
            }
            #expect(attempts.count == 30)
            #expect(attempts.allSatisfy { $0.lastError == nil }, "no webhook attempt has ended")
            #expect(attempts.filter { $0.attempts == 1 }.count == 10, "one message per endpoint in flight")
            running.cancel()
            for connection in held { _ = Glibc.close(connection) }
            _ = await running.result
            try await client.shutdown()
        }
    }
}

/// `work`'s result, or a failure once `seconds` have passed without it (a bound, not a wait).
func withDeadline<Result: Sendable>(seconds: Int, _ work: @escaping @Sendable () async -> Result) async throws
    -> Result
{
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { await work() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw DeadlinePassed(seconds: seconds)
        }
        return result
    }
}

struct DeadlinePassed: Error, CustomStringConvertible {
    let seconds: Int
    var description: String { "nothing came within \(seconds) seconds" }
}

/// A transport that tells the first message it is given.
final class SignallingTransport: MailTransport {
    private let stream: AsyncStream<MailMessage>
    private let continuation: AsyncStream<MailMessage>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream() }

    var destination: String { "the test" }

    func send(_ message: MailMessage) async throws { continuation.yield(message) }

    /// Nil when the wait is cancelled first.
    func first() async -> MailMessage? {
        for await message in stream { return message }
        return nil
    }
}

/// A loopback TCP port that takes connections, tells each one (`connections`), and never answers.
final class SilentListener: Sendable {
    let descriptor: Int32
    let port: Int
    let connections: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 128) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else {
            _ = Glibc.close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        (connections, continuation) = AsyncStream.makeStream()
        let continuation = continuation
        // Blocking accepts on a thread of their own; closing the socket ends the loop.
        Thread.detachNewThread {
            while true {
                let connection = accept(descriptor, nil, nil)
                guard connection >= 0 else { break }
                continuation.yield(connection)
            }
            continuation.finish()
        }
    }

    /// Waits for `count` connections; their descriptors.
    func accepted(_ count: Int) async -> [Int32] {
        var taken: [Int32] = []
        for await connection in connections {
            taken.append(connection)
            if taken.count == count { break }
        }
        return taken
    }

    func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        _ = Glibc.close(descriptor)
    }
}
