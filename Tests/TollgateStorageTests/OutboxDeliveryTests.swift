import Foundation
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
                try await store.claimOutbox(node: "dead", now: clock.now(), limit: 10, leaseMillis: 60_000).count == 1)
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
}
