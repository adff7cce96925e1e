import Foundation
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage

/// Every e-mail, in English and French, rendered with every variable it names;
/// what users typed is escaped in HTML and left as typed in text.
@Suite struct MailTemplateTests {
    static let renderer = OutboxDeliveryTests.renderer

    /// Every kind with a value for each variable its words may name.
    static var samples: [String: [String: Any]] {
        [
            "verify_email": ["sealedToken": seal("v-token")],
            "reset_password": ["sealedToken": seal("r-token")],
            "account_exists": ["email": "ada@example.com"],
            "change_email": ["sealedToken": seal("c-token"), "email": "ada@new.example"],
            "email_changed": ["email": "ada@example.com", "newEmail": "ada@new.example"],
            "workspace_invitation": [
                "sealedToken": seal("i-token"), "workspaceName": "Atelier <script>alert(1)</script>",
                "workspaceId": "ws1", "role": "ADMIN", "inviter": "bob@example.com",
                "expiresAt": "2026-05-21T00:00:00Z",
            ],
            "two_factor_enabled": ["email": "ada@example.com"],
            "two_factor_disabled": ["email": "ada@example.com"],
            "welcome": ["plan": "Pro"],
            "usage_alert": [
                "type": "usage.threshold_reached",
                "data": [
                    "feature": "searches", "percent": 80, "used": 81, "limit": 100, "periodEnd": "2026-06-01T00:00:00Z",
                ],
            ],
            "trial_started": [
                "plan": "pro", "trialEnd": "2026-05-28T00:00:00Z", "interval": "month", "currency": "EUR",
                "hasPaymentMethod": false,
            ],
            "trial_ending": ["plan": "Pro", "days": 3, "trialEnd": "2026-05-17T00:00:00Z"],
            "trial_ended": ["plan": "Pro"],
            "payment_failed": ["plan": "Pro"],
            "subscription_suspended": ["plan": "Pro"],
            "subscription_reactivated": ["plan": "Pro"],
            "plan_changed": ["plan": "Business", "previousPlan": "Pro"],
            "invoice_issued": ["number": "INV-2026-0007", "total": "9.90 EUR", "issuedAt": "2026-05-14T10:00:00Z"],
            "invoice_paid": [
                "number": "INV-2026-0007", "total": "58.80 EUR", "totalMinor": 5880, "currency": "EUR",
                "paidAt": "2026-05-20T10:00:00Z",
            ],
            "invoice_overdue": [
                "number": "INV-2026-0007", "total": "9.90 EUR", "dueAt": "2026-05-14T10:00:00Z", "daysOverdue": 7,
                "final": false,
            ],
            "credits_low": ["creditType": "photo credits", "balance": 4],
            "webhook_endpoint_disabled": ["endpointId": "we_1", "url": "https://hooks.example/t"],
        ]
    }

    static func seal(_ token: String) -> String { (try? TestKeys.box.sealToken(token)) ?? "" }

    static func message(_ kind: String, locale: String) throws -> OutboxMessage {
        var payload = samples[kind] ?? [:]
        payload["locale"] = locale
        let json = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        return OutboxMessage(
            id: "mail_\(kind)", kind: "email.\(kind)", recipient: "ada@example.com",
            payload: String(decoding: json, as: UTF8.self), createdAt: Fixtures.utc(2026, 5, 14))
    }

    @Test func everyLocaleWritesEveryKind() throws {
        let templates = OutboxDeliveryTests.templates
        #expect(templates.kinds(locale: "en") == Set(Self.samples.keys))
        #expect(templates.kinds(locale: "fr") == Set(Self.samples.keys))
    }

    /// A security notice ("if this was not you, reset your password") does not end by saying the
    /// mail can be ignored; other mail does.
    @Test(arguments: ["en", "fr"])
    func securityNoticesDoNotSayTheyCanBeIgnored(locale: String) throws {
        // The words before the apostrophe HTML escapes.
        let ignore = locale == "fr" ? "vous pouvez l" : "you can ignore it"
        for kind in ["two_factor_enabled", "two_factor_disabled", "email_changed"] {
            let mail = try Self.renderer.render(try Self.message(kind, locale: locale))
            #expect(!mail.text.contains(ignore) && !mail.html.contains(ignore), "\(kind) in \(locale)")
        }
        let verify = try Self.renderer.render(try Self.message("verify_email", locale: locale))
        #expect(verify.text.contains(ignore) && verify.html.contains(ignore))
    }

    /// The variables a kind's words name are all in its sample, and each comes out rendered.
    @Test(arguments: ["en", "fr"])
    func everyKindRendersWithEveryVariable(locale: String) throws {
        let words = try String(contentsOf: Self.wordsFile(locale), encoding: .utf8)
        for kind in Self.samples.keys.sorted() {
            let mail = try Self.renderer.render(try Self.message(kind, locale: locale))
            #expect(!mail.subject.isEmpty && !mail.text.contains("{{") && !mail.html.contains("{{"), "\(kind)")
            for name in Self.variables(of: kind, in: words) {
                #expect(MailTemplateTests.known(name, kind: kind), "\(locale) \(kind) names {{\(name)}}, never given")
            }
            let sample = Self.samples[kind] ?? [:]
            let data = sample["data"] as? [String: Any] ?? [:]
            for (key, value) in sample.merging(data, uniquingKeysWith: { a, _ in a })
            where ["plan", "previousPlan", "number", "days", "balance", "url", "used", "limit"].contains(key) {
                #expect(mail.text.contains("\(value)"), "\(locale) \(kind): \(key) is missing from the text")
            }
        }
    }

    @Test func userInputIsEscapedInHTMLAndLinksCarryTheirTokens() throws {
        let invitation = try Self.renderer.render(try Self.message("workspace_invitation", locale: "fr"))
        #expect(!invitation.html.contains("<script>") && invitation.html.contains("&lt;script&gt;alert(1)"))
        #expect(invitation.text.contains("Atelier <script>alert(1)</script>"), "text is text")
        #expect(invitation.subject == "Vous êtes invité à rejoindre Atelier <script>alert(1)</script> sur Memento")
        #expect(invitation.text.contains("\nhttps://app.memento.example/join?token=i-token&workspace=ws1\n"))
        #expect(invitation.unsubscribe == nil, "an invitation is transactional")
        #expect(
            invitation.text.contains("Rejoindre Atelier <script>alert(1)</script>\u{a0}:\n"),
            "French puts a (no-break) space before the colon")

        // The inviter and the expiry.
        #expect(invitation.text.contains("bob@example.com vous invite à rejoindre Atelier"))
        #expect(invitation.text.contains("L'invitation expire le 21/05/2026."), "a French day")

        let alert = try Self.renderer.render(try Self.message("usage_alert", locale: "en"))
        #expect(alert.subject == "You have used 80 % of your searches quota")
        #expect(alert.text.contains("81 of 100 searches used this period, until 2026-06-01."))
        let unsubscribe = try #require(alert.unsubscribe)
        #expect(alert.text.contains("\nSee my plan:\n") && alert.text.contains("Stop these e-mails: http"))
        #expect(alert.rendered.contains("List-Unsubscribe: <\(unsubscribe.absoluteString)>"))
        #expect(alert.rendered.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        let token = try #require(
            URLComponents(url: unsubscribe, resolvingAgainstBaseURL: false)?.queryItems?.first?.value)
        #expect(try TestKeys.box.openToken(token) == "ada@example.com", "the token is the sealed address")
    }

    /// A lifetime quota is not "this period"; a workspace's plan change says it
    /// is the workspace's; French mail writes amounts the French way; invoices and plan changes
    /// are not "ignorable".
    @Test func wordsFitWhatTheMailIsAbout() throws {
        func render(_ kind: String, _ payload: String, locale: String = "en") throws -> MailMessage {
            try Self.renderer.render(
                OutboxMessage(
                    id: "mail_\(kind)", kind: "email.\(kind)", recipient: "ada@example.com",
                    payload: payload.replacingOccurrences(of: "LOCALE", with: locale),
                    createdAt: Fixtures.utc(2026, 5, 14)))
        }
        let lifetime = try render(
            "usage_alert",
            #"{"locale":"LOCALE","type":"usage.limit_reached","data":{"feature":"searches","percent":100,"used":30,"#
                + #""limit":30,"periodStart":"1970-01-01T00:00:00Z","periodEnd":null}}"#)
        #expect(lifetime.text.contains("30 of 30 searches used for good: this quota never resets."), "\(lifetime.text)")
        #expect(!lifetime.text.contains("this period"))
        let workspace = try render(
            "plan_changed", #"{"locale":"LOCALE","plan":"business","previousPlan":"basic","workspaceName":"Team"}"#)
        #expect(workspace.text.contains("The plan of the workspace Team changed from"), "\(workspace.text)")
        #expect(workspace.subject.hasPrefix("The Team workspace's plan is now "), "\(workspace.subject)")
        #expect(!workspace.text.contains("you can ignore it"))
        let invoice = try render(
            "invoice_issued",
            #"{"locale":"LOCALE","type":"invoice.issued","data":{"number":"INV-1","total":"5880.00 EUR","#
                + #""totalMinor":588000,"currency":"EUR","issuedAt":"2026-05-14T10:00:00Z"}}"#, locale: "fr")
        #expect(invoice.text.contains("d'un montant de 5 880,00 €"), "\(invoice.text)")
        #expect(!invoice.text.contains("ignorer"))
    }

    /// With a catalog behind the renderer: a trial's mail says when it ends, what
    /// follows and how to cancel; a quota alert leads to the paywall of the plan that lifts it, in
    /// the reader's language; a paid invoice gets a receipt; HTML mail wears the product's colour.
    @Test func mailSaysWhatTheCatalogKnows() throws {
        let yaml =
            Fixtures.catalogYAML.replacingOccurrences(
                of: "searches: { type: metered }",
                with: "searches: { type: metered, name: { en: Searches, fr: Recherches } }")
            + "\nbranding: { color: \"#0F766E\" }\n"
        let catalog = try CatalogLoader.load(yaml: yaml)
        let renderer = MessageRenderer(
            settings: MailSettings(
                productName: "Memento", from: "no-reply@memento.example",
                linkBase: URL(string: "https://app.memento.example")!, catalog: catalog),
            box: TestKeys.box, templates: OutboxDeliveryTests.templates)
        func render(_ kind: String, _ payload: String) throws -> MailMessage {
            try renderer.render(
                OutboxMessage(
                    id: "mail_\(kind)", kind: "email.\(kind)", recipient: "ada@example.com", payload: payload,
                    createdAt: Fixtures.utc(2026, 5, 14)))
        }
        let trial =
            #"{"type":"subscription.created","data":{"plan":"pro","status":"trialing","#
            + #""trialEnd":"2026-05-28T00:00:00Z","interval":"month","currency":"EUR","hasPaymentMethod":CARD}}"#
        let french = try render(
            "trial_started",
            trial.replacingOccurrences(of: "CARD", with: "false").replacingOccurrences(
                of: #"{"type""#, with: #"{"locale":"fr","type""#))
        #expect(french.text.contains("dure jusqu’au 28/05/2026"), "\(french.text)")
        #expect(french.text.contains("l’offre coûte 9,90 € par mois."))
        #expect(french.text.contains("sans lui, l’essai prend simplement fin et rien n’est facturé"))
        #expect(french.text.contains("\nhttps://app.memento.example/billing\n"))
        let english = try render("trial_started", trial.replacingOccurrences(of: "CARD", with: "true"))
        #expect(
            english.text.contains(
                "the plan costs 9.90 EUR per month, charged to your payment method on 2026-05-28."),
            "\(english.text)")
        #expect(english.text.contains("To cancel, open your billing page before 2026-05-28"))
        #expect(english.html.contains("background: #0f766e;") && english.html.contains(">Memento</p>"))

        let alert = try render(
            "usage_alert",
            #"{"locale":"fr","plan":"pro","type":"usage.limit_reached","data":{"feature":"searches","#
                + #""percent":100,"used":100,"limit":100,"periodStart":"2026-05-01T00:00:00Z","#
                + #""periodEnd":"2026-06-01T00:00:00Z"}}"#)
        #expect(alert.subject.contains("Recherches"), "\(alert.subject)")
        #expect(
            alert.text.contains("https://app.memento.example/upgrade?feature=searches&plan=scale\n"), "\(alert.text)")

        let receipt = try render(
            "invoice_paid",
            #"{"locale":"fr","type":"invoice.paid","data":{"invoiceId":"in_1","number":"INV-7","#
                + #""totalMinor":5880,"currency":"EUR","total":"58.80 EUR","paidAt":"2026-05-20T10:00:00Z"}}"#)
        #expect(receipt.subject == "Reçu de votre facture Memento INV-7")
        #expect(receipt.text.contains("votre paiement de 58,80 € pour la facture INV-7 le 20/05/2026"))
        #expect(receipt.text.contains("\nhttps://app.memento.example/invoices\n"))
    }

    @Test func aTrialReminderCountsTheDaysLeftFromTheEvent() throws {
        let written = Fixtures.utc(2026, 5, 14)
        let payload = #"{"type":"subscription.trial_will_end","data":{"plan":"pro","trialEnd":"2026-05-16T12:00:00Z"}}"#
        let mail = try Self.renderer.render(
            OutboxMessage(
                id: "mail_t", kind: "email.trial_ending", recipient: "ada@example.com", payload: payload,
                createdAt: written))
        #expect(mail.subject == "Your Memento trial ends in 3 days", "2.5 days left, rounded up")
        #expect(mail.text.contains("ends on 2026-05-16"))
    }

    // MARK: Helpers

    static func wordsFile(_ locale: String) throws -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/TollgateCore/Resources/words/\(locale).yaml")
    }

    /// The names inside `{{…}}`, `{{#…}}` and `{{^…}}` in the lines of one kind's block.
    static func variables(of kind: String, in words: String) -> Set<String> {
        let lines = words.components(separatedBy: "\n")
        // Kinds sit under `mail:` and `kinds:`, four spaces in.
        guard let start = lines.firstIndex(of: "    \(kind):") else { return ["<kind missing>"] }
        let block = lines[(start + 1)...].prefix { $0.hasPrefix("      ") }.joined(separator: "\n")
        var names = Set<String>()
        var rest = Substring(block)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(
                in: CharacterSet(charactersIn: "#^/ "))
            names.insert(name)
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// Values every mail has (the renderer adds them), or this kind's sample gives.
    static func known(_ name: String, kind: String) -> Bool {
        // The last three are given when they apply: a lifetime quota (the renderer), a workspace's
        // mail (the fan-out), an invitation by a known member.
        let always: Set = [
            "product", "email", "limitReached", "resetsAt", "feature", "percent", "lifetime", "workspaceName",
            "inviter", "price", "monthly",
        ]
        let sample = samples[kind] ?? [:]
        return always.contains(name) || sample[name] != nil || (sample["data"] as? [String: Any])?[name] != nil
    }
}

/// Every kind of mail, in both languages, through a real SMTP server and read back by Python's
/// mail package: what a mail program shows is what the templates wrote.
@Suite struct MailThroughSMTPTests {
    @Test func everyKindInEveryLanguageArrivesAsWritten() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kinds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let smtp = try await SMTPPeer.start([directory.path])
        defer { smtp.stop() }
        let port = smtp.port
        let transport = try SMTPTransport(
            configuration: try #require(.init(url: "smtp://user:secret@127.0.0.1:\(port)")))
        var sent: [MailMessage] = []
        for locale in ["en", "fr"] {
            for kind in MailTemplateTests.samples.keys.sorted() {
                let mail = try MailTemplateTests.renderer.render(try MailTemplateTests.message(kind, locale: locale))
                try await transport.send(mail)
                sent.append(mail)
            }
        }
        for (index, mail) in sent.enumerated() {
            let read = try await PeerProcess.run(
                try PythonPeers.interpreter,
                [Repository.path("Tests/peers/read_mail.py"), directory.appendingPathComponent("\(index).eml").path])
            let parsed = try #require(
                try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String], "\(read.stderr)")
            #expect(parsed["subject"] == mail.subject)
            #expect(parsed["text"] == mail.text, "\(mail.subject)")
            #expect(
                parsed["html"]?.trimmingCharacters(in: .whitespacesAndNewlines)
                    == mail.html.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
