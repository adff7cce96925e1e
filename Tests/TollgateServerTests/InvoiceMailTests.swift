import Foundation
import TestSupport
import Testing

/// The invoice e-mail carries the invoice's PDF — through a real SMTP server
/// (aiosmtpd), read back by Python's mail package — the very document the API serves.
@Suite struct InvoiceMailTests {
    @Test func theInvoiceMailCarriesItsPDF() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "invoice-mail-\(UUID().uuidString)")
        let mailbox = directory.appendingPathComponent("mailbox")
        try FileManager.default.createDirectory(at: mailbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([mailbox.path])
        defer { smtp.stop() }
        let config = directory.appendingPathComponent("tollgate.yaml")
        try """
        seller:
          legalName: Société Générale Démo
          addressLines: [29 boulevard Haussmann]
          postalCode: "75009"
          city: Paris
          country: FR
          vatNumber: FR40303265045
        """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data").path
        let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin", "--data-dir", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try await ServerProcess.start([
            "--data-dir", data, "--smtp-url", "smtp://user:secret@127.0.0.1:\(smtp.port)", "--config", config.path,
        ])
        defer { server.kill() }
        _ = try await server.request("POST", "v1/customers", key: key, json: #"{"id":"c1","email":"ada@example.com"}"#)
        _ = try await server.request(
            "POST", "v1/customers/c1/invoice-items", key: key,
            json: #"{"description":"Atelier à Łódź","unitAmount":12000,"currency":"EUR","idempotencyKey":"a"}"#)
        let draft = MailLinkTests.json(
            try await server.request("POST", "v1/invoices", key: key, json: #"{"customer":"c1"}"#).body)
        let id = try #require(draft["id"] as? String)
        let finalized = MailLinkTests.json(
            try await server.request("POST", "v1/invoices/\(id)/finalize", key: key).body)
        let number = try #require(finalized["number"] as? String)

        let deadline = ContinuousClock.now + .seconds(30)
        var attachments: [[String: Any]] = []
        while attachments.isEmpty, ContinuousClock.now < deadline {
            for file in try FileManager.default.contentsOfDirectory(atPath: mailbox.path) where file.hasSuffix(".eml") {
                let read = try await PeerProcess.run(
                    try PythonPeers.interpreter,
                    [Repository.path("Tests/peers/read_mail.py"), mailbox.appendingPathComponent(file).path])
                let mail = MailLinkTests.json(Data(read.stdout.utf8))
                if (mail["subject"] as? String)?.contains(number) == true {
                    attachments = mail["attachments"] as? [[String: Any]] ?? [[:]]
                }
            }
            if attachments.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let attachment = try #require(attachments.first, "no invoice mail within 30 s")
        #expect(attachment["filename"] as? String == "\(number).pdf")
        #expect(attachment["contentType"] as? String == "application/pdf")
        let content = try #require((attachment["content"] as? String).flatMap { Data(base64Encoded: $0) })
        let served = try await server.request("GET", "v1/invoices/\(id).pdf", key: key)
        #expect(served.status == 200 && content == served.body, "the mail carries the document the API serves")
    }
}
