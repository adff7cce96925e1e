import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing
import TollgateStorage

/// The server SIGKILLed while an SMTP server holds its message (saved, not yet
/// acknowledged) and started again: the message is not lost; it is sent again once its lease has
/// run out, with the same Message-ID, so the reader's mail program can tell.
@Suite struct MailCrashTests {
    static func mail(in directory: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".eml") }
            .sorted().map { directory.appendingPathComponent($0) }
    }

    /// Waits (a bounded poll: a separate process gives no event to wait on) until `count` mails are there.
    static func waitForMail(_ count: Int, in directory: URL, seconds: Int) async throws -> [URL] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while mail(in: directory).count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        return mail(in: directory)
    }

    @Test(arguments: TestDatabase.all)
    func aServerKilledMidDeliverySendsTheMessageAgainWithTheSameMessageID(database: TestDatabase) async throws {
        try await database.withLocation { location in try await Self.killMidDelivery(location.location) }
    }

    static func killMidDelivery(_ location: DatabaseLocation) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)")
        let mailbox = directory.appendingPathComponent("mailbox")
        try FileManager.default.createDirectory(at: mailbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([mailbox.path, "slow"])
        defer { smtp.stop() }
        let port = smtp.port
        var database: [String] = []
        if case .postgres(let url) = location { database = ["--database", url] }
        let arguments =
            database + [
                "--data-dir", directory.appendingPathComponent("data").path,
                "--smtp-url", "smtp://user:secret@127.0.0.1:\(port)", "--mail-lease-seconds", "2",
            ]
        let first = try await ServerProcess.start(arguments)
        var register = HTTPClientRequest(url: first.baseURL.appendingPathComponent("v1/auth/register").absoluteString)
        register.method = .POST
        register.headers.add(name: "content-type", value: "application/json")
        register.body = .bytes(
            ByteBuffer(string: #"{"email":"ada@example.com","password":"correct horse battery staple"}"#))
        #expect(try await HTTPClient.shared.execute(register, timeout: .seconds(10)).status == .accepted)
        let sent = try await Self.waitForMail(1, in: mailbox, seconds: 30)
        #expect(sent.count == 1, "the verification mail reached the SMTP server")
        first.kill()

        let second = try await ServerProcess.start(arguments)
        defer { second.kill() }
        let again = try await Self.waitForMail(2, in: mailbox, seconds: 30)
        #expect(again.count == 2, "sent again after the lease")
        var ids: [String] = []
        for file in again {
            let read = try await PeerProcess.run(
                try PythonPeers.interpreter, [Repository.path("Tests/peers/read_mail.py"), file.path])
            let mail = try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String]
            ids.append(mail?["messageId"] ?? "")
        }
        #expect(ids.count == 2 && ids[0] == ids[1] && !ids[0].isEmpty, "\(ids)")
    }
}
