import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// The SMTP client against a real SMTP server (aiosmtpd on loopback): authenticated delivery read
/// back by Python's mail parser, a 5xx refusal as permanent, a server that is down as temporary.
@Suite struct SMTPTransportTests {
    static let message = MailMessage(
        from: "Memento <no-reply@memento.example>", to: "ada@example.com", subject: "Réinitialisez votre mot de passe",
        text: "Bonjour,\n.une ligne qui commence par un point\nFin.\n", html: "<p>Bonjour</p>",
        messageID: "msg_smtp1@tollgate.local", date: Date(timeIntervalSince1970: 1_780_000_000))

    @Test func aMessageGoesThroughAnAuthenticatedServerAndRefusalsAreTold() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([directory.path])
        defer { smtp.stop() }
        let port = smtp.port
        let transport = try SMTPTransport(
            configuration: try #require(.init(url: "smtp://user:secret@127.0.0.1:\(port)")))
        try await transport.send(Self.message)
        let saved = directory.appendingPathComponent("0.eml")
        #expect(FileManager.default.fileExists(atPath: saved.path))
        let read = try await PeerProcess.run(
            try PythonPeers.interpreter, [Repository.path("Tests/peers/read_mail.py"), saved.path])
        #expect(read.status == 0, "\(read.stderr)")
        let mail = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String])
        #expect(mail["subject"] == "Réinitialisez votre mot de passe")
        #expect(mail["messageId"] == "<msg_smtp1@tollgate.local>")
        #expect(mail["text"] == Self.message.text, "dot-stuffing undone by the server")

        var refused = Self.message
        refused.to = "refused@example.com"
        await #expect(throws: MailError.self) { try await transport.send(refused) }
        do {
            try await transport.send(refused)
            Issue.record("a refused recipient was accepted")
        } catch let MailError.permanent(reason) {
            #expect(reason.contains("550"))
        }
        // (A wrong password is not tried here: aiosmtpd holds the connection without answering.)
    }

    @Test func aServerThatIsDownIsATemporaryFailure() async throws {
        let transport = try SMTPTransport(
            configuration: try #require(.init(url: "smtp://127.0.0.1:\(try LoopbackPort.free())")))
        do {
            try await transport.send(Self.message)
            Issue.record("nothing listens, yet the message was sent")
        } catch let error as MailError {
            guard case .temporary = error else {
                Issue.record("expected a temporary failure, got \(error)")
                return
            }
        }
    }

    /// The SMTP server down for a while — every message is retried and all arrive
    /// once it is up, each once, on the test's clock.
    @Test(arguments: TestDatabase.all)
    func messagesWaitForAServerThatIsDownAndAllArriveOnceItIsUp(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = try LoopbackPort.free()
            let clock = ManualClock(OutboxDeliveryTests.start)
            try await store.enqueueOutbox(try (1...3).map { try OutboxDeliveryTests.message($0) })
            let transport = try SMTPTransport(
                configuration: try #require(.init(url: "smtp://user:secret@127.0.0.1:\(port)")))
            let delivery = OutboxDeliveryTests.delivery(store, transport, clock: clock)
            #expect(try await delivery.deliverDue() == 3)
            let waiting = try await store.outboxEntries(failedOnly: false, limit: 10)
            #expect(waiting.count == 3 && waiting.allSatisfy { $0.lastError?.contains("cannot connect") == true })

            let smtp = try await SMTPPeer.start([directory.path, "plain", String(port)])
            defer { smtp.stop() }
            #expect(try await delivery.deliverDue() == 0, "not due before the schedule says")
            clock.advance(by: 30)
            #expect(try await delivery.deliverDue() == 3)
            #expect(try await store.outboxEntries(failedOnly: false, limit: 10).isEmpty, "all delivered")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.hasSuffix(".eml")
            }
            #expect(files.count == 3)
        }
    }
}

/// STARTTLS (with AUTH LOGIN, the only mechanism the server offers once encrypted) and implicit
/// TLS, against aiosmtpd with a certificate made for the test and trusted through `ca=`.
@Suite struct SMTPTLSTests {
    @Test(arguments: ["starttls", "implicit"])
    func mailGoesOverTLSAndIsReadBack(mode: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try await TestCertificate.make(in: directory)
        let mailbox = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mailbox, withIntermediateDirectories: true)
        let smtp = try await SMTPPeer.start([mailbox.path, mode, cert, key])
        defer { smtp.stop() }
        let port = smtp.port
        let scheme = mode == "implicit" ? "smtps" : "smtp"
        let required = mode == "implicit" ? "?" : "?starttls=required&"
        let transport = try SMTPTransport(
            configuration: try #require(.init(url: "\(scheme)://user:secret@localhost:\(port)/\(required)ca=\(cert)")))
        try await transport.send(SMTPTransportTests.message)
        let read = try await PeerProcess.run(
            try PythonPeers.interpreter,
            [Repository.path("Tests/peers/read_mail.py"), mailbox.appendingPathComponent("0.eml").path])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout.contains("msg_smtp1@tollgate.local"))

        // Without the CA the certificate is not trusted: no mail, and a temporary failure (the
        // operator can fix the trust and the outbox retries).
        let untrusting = try SMTPTransport(
            configuration: try #require(.init(url: "\(scheme)://user:secret@localhost:\(port)")))
        await #expect(throws: MailError.self) { try await untrusting.send(SMTPTransportTests.message) }
    }

    @Test func aRequiredSTARTTLSThatIsNotOfferedIsRefusedBeforeAnyPassword() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([directory.path])
        defer { smtp.stop() }
        let port = smtp.port
        let transport = try SMTPTransport(
            configuration: try #require(.init(url: "smtp://user:secret@127.0.0.1:\(port)?starttls=required")))
        do {
            try await transport.send(SMTPTransportTests.message)
            Issue.record("sent without the TLS the configuration requires")
        } catch let MailError.permanent(reason) {
            #expect(reason.contains("STARTTLS"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        #expect(SMTPTransport.Configuration(url: "smtp://h?starttls=maybe") == nil)
        #expect(SMTPTransport.Configuration(url: "smtps://h")?.port == 465)
    }
}
