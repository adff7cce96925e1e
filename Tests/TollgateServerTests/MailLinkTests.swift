import Foundation
import TestSupport
import Testing

/// The account e-mails as a reader gets them — through a real SMTP server (aiosmtpd),
/// parsed by Python's mail package — and their links followed as the product's front end would
/// (it reads the token from the link and posts it to Tollgate): the verification link verifies,
/// the reset link sets a new password, the invitation link joins the workspace.
@Suite struct MailLinkTests {
    struct Mail {
        let to: String
        let subject: String
        let text: String

        /// The query of the first link in the text that starts with `prefix`.
        func link(_ prefix: String) throws -> [String: String] {
            let line = try #require(
                text.split(separator: "\n").first { $0.hasPrefix(prefix) }, "no \(prefix) in \(text)")
            let items = URLComponents(string: String(line))?.queryItems ?? []
            return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        }
    }

    /// Every mail the SMTP server saved, read by Python's mail package.
    static func mails(in directory: URL) async throws -> [Mail] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".eml") }
        var mails: [Mail] = []
        for file in files.sorted() {
            let read = try await PeerProcess.run(
                try PythonPeers.interpreter,
                [Repository.path("Tests/peers/read_mail.py"), directory.appendingPathComponent(file).path])
            let json = try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String] ?? [:]
            mails.append(Mail(to: json["to"] ?? "", subject: json["subject"] ?? "", text: json["text"] ?? ""))
        }
        return mails
    }

    /// Waits (a bounded poll: the mail travels through two other processes) for a mail to `to`
    /// whose subject contains `subject`.
    static func mail(to: String, subject: String, in directory: URL) async throws -> Mail {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let found = try await mails(in: directory).first(where: {
                $0.to.contains(to) && $0.subject.contains(subject)
            }) {
                return found
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("no mail to \(to) about \(subject) within 30 s")
    }

    static func json(_ body: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    /// `serve --port 0` (as every process test runs it): the links name the port the server
    /// listens on, not port 0.
    @Test func withPortZeroTheLinksNameTheBoundPort() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("port0-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let server = try await ServerProcess.start(["--data-dir", data.path])
        defer { server.kill() }
        #expect(server.baseURL.port != 0)
        #expect(
            try await server.request(
                "POST", "v1/auth/register", key: "-",
                json: #"{"email":"ada@example.com","password":"correct horse battery staple"}"#
            ).status == 202)
        let verify = try await Self.mail(
            to: "ada@example.com", subject: "Confirm", in: data.appendingPathComponent("mail"))
        let token = try verify.link(server.baseURL.absoluteString + "/portal/verify-email?")["token"]
        #expect(token?.isEmpty == false)
    }

    @Test func verificationResetAndInvitationLinksWorkEndToEnd() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("links-\(UUID().uuidString)")
        let mailbox = directory.appendingPathComponent("mailbox")
        try FileManager.default.createDirectory(at: mailbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([mailbox.path])
        defer { smtp.stop() }
        let port = smtp.port
        let data = directory.appendingPathComponent("data").path
        let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--data-dir", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try await ServerProcess.start([
            "--data-dir", data,
            "--smtp-url", "smtp://user:secret@127.0.0.1:\(port)", "--public-url", "https://app.example",
        ])
        defer { server.kill() }
        let password = "correct horse battery staple"
        #expect(
            try await server.request(
                "POST", "v1/auth/register", key: "-", json: #"{"email":"ada@example.com","password":"\#(password)"}"#
            ).status == 202)

        // Verification: the link's token, posted by the front end.
        let verify = try await Self.mail(to: "ada@example.com", subject: "Confirm", in: mailbox)
        let verifyToken = try #require(try verify.link("https://app.example/verify-email?")["token"])
        #expect(
            try await server.request("POST", "v1/auth/verify-email", key: "-", json: #"{"token":"\#(verifyToken)"}"#)
                .status == 200)
        let login = Self.json(
            try await server.request(
                "POST", "v1/auth/login", key: "-", json: #"{"email":"ada@example.com","password":"\#(password)"}"#
            ).body)
        let access = try #require(login["accessToken"] as? String)
        #expect(Self.json(try await server.request("GET", "v1/me", key: access).body)["emailVerified"] as? Bool == true)
        _ = try await Self.mail(to: "ada@example.com", subject: "Welcome", in: mailbox)

        // Reset: a new password from the link; the old one no longer signs in.
        #expect(
            try await server.request("POST", "v1/auth/password-reset", key: "-", json: #"{"email":"ada@example.com"}"#)
                .status == 202)
        let reset = try await Self.mail(to: "ada@example.com", subject: "Reset", in: mailbox)
        let resetToken = try #require(try reset.link("https://app.example/reset-password?")["token"])
        let newPassword = "a brand new passphrase 42"
        #expect(
            try await server.request(
                "POST", "v1/auth/password-reset/confirm", key: "-",
                json: #"{"token":"\#(resetToken)","password":"\#(newPassword)"}"#
            ).status == 200)
        #expect(
            try await server.request(
                "POST", "v1/auth/login", key: "-", json: #"{"email":"ada@example.com","password":"\#(password)"}"#
            ).status == 401)
        let relogin = Self.json(
            try await server.request(
                "POST", "v1/auth/login", key: "-", json: #"{"email":"ada@example.com","password":"\#(newPassword)"}"#
            ).body)
        let owner = try #require(relogin["accessToken"] as? String)

        // Invitation: Bob follows the link, signs up, and joins.
        let workspace = Self.json(
            try await server.request("POST", "v1/workspaces", key: owner, json: #"{"name":"Atelier <b>"}"#).body)
        let workspaceId = try #require(workspace["id"] as? String)
        // Seats to invite into: the workspace on Business (10 collaborators).
        #expect(
            try await server.request("PUT", "v1/customers/\(workspaceId)/plan", key: key, json: #"{"plan":"business"}"#)
                .status == 200)
        let invited = try await server.request(
            "POST", "v1/workspaces/\(workspaceId)/members/invite", key: owner, json: #"{"email":"bob@example.com"}"#)
        #expect(invited.status == 201, "\(String(decoding: invited.body, as: UTF8.self))")
        let invitation = try await Self.mail(to: "bob@example.com", subject: "Atelier <b>", in: mailbox)
        let join = try invitation.link("https://app.example/join?")
        #expect(join["workspace"] == workspaceId)
        let inviteToken = try #require(join["token"])
        #expect(
            try await server.request(
                "POST", "v1/auth/register", key: "-", json: #"{"email":"bob@example.com","password":"\#(password)"}"#
            ).status == 202)
        // Only the address's verified holder may take its invitation.
        let bobVerify = try await Self.mail(to: "bob@example.com", subject: "Confirm", in: mailbox)
        let bobToken = try #require(try bobVerify.link("https://app.example/verify-email?")["token"])
        #expect(
            try await server.request("POST", "v1/auth/verify-email", key: "-", json: #"{"token":"\#(bobToken)"}"#)
                .status == 200)
        let bob = Self.json(
            try await server.request(
                "POST", "v1/auth/login", key: "-", json: #"{"email":"bob@example.com","password":"\#(password)"}"#
            ).body)
        let bobAccess = try #require(bob["accessToken"] as? String)
        let accepted = try await server.request(
            "POST", "v1/workspaces/\(workspaceId)/invitations/\(inviteToken)", key: bobAccess)
        #expect((200..<300).contains(accepted.status), "\(String(decoding: accepted.body, as: UTF8.self))")
        let members = Self.json(
            try await server.request("GET", "v1/workspaces/\(workspaceId)/members", key: owner).body)
        let emails = (members["data"] as? [[String: Any]])?.compactMap { $0["email"] as? String } ?? []
        #expect(emails.contains("bob@example.com"))
    }
}
