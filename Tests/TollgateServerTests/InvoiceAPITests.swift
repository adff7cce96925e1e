import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateBilling
import TollgateCore
import TollgateStorage

@testable import TollgateDocuments
@testable import TollgateServer

/// Invoices through the API: VAT for each case to the cent against a reference computed here,
/// the lifecycle and its refusals, billing details and one-off charges.
@Suite struct InvoiceAPITests {
    static let seller = SellerProfile(
        party: InvoiceParty(
            legalName: "Tollgate Démo SAS", addressLines: ["12 rue de la Paix"], postalCode: "75002", city: "Paris",
            country: "FR", vatNumber: "FR40303265045"),
        registration: "RCS Paris 303 265 045", paymentInstructions: "IBAN FR76 3000 6000 0112 3456 7890 189",
        footer: "Merci !")

    /// What each buyer owes: the treatment, its rate in basis points, and the mention.
    struct Case {
        let customer: String
        let details: String?
        let day: Date
        let treatment: String
        let rate: Int
        let mention: String?
    }

    static let cases: [Case] = [
        Case(
            customer: "b2c-de", details: buyer("DE", nil), day: Fixtures.utc(2026, 5, 14), treatment: "oss",
            rate: 1900, mention: nil),
        Case(
            customer: "b2c-it", details: buyer("IT", nil), day: Fixtures.utc(2026, 5, 14), treatment: "oss",
            rate: 2200, mention: nil),
        Case(
            customer: "b2c-fi-before", details: buyer("FI", nil), day: Fixtures.utc(2024, 8, 31, 23, 59),
            treatment: "oss", rate: 2400, mention: nil),
        Case(
            customer: "b2c-fi-after", details: buyer("FI", nil), day: Fixtures.utc(2024, 9, 1), treatment: "oss",
            rate: 2550, mention: nil),
        Case(
            customer: "b2b-de", details: buyer("DE", "DE 136 695 976"), day: Fixtures.utc(2026, 5, 14),
            treatment: "reverse_charge", rate: 0, mention: TaxTreatment.reverseChargeMention),
        Case(
            customer: "b2b-fr", details: buyer("FR", "FR23334175221"), day: Fixtures.utc(2026, 5, 14),
            treatment: "domestic", rate: 2000, mention: nil),
        Case(
            customer: "export-us", details: buyer("US", "98-7654321"), day: Fixtures.utc(2026, 5, 14),
            treatment: "export", rate: 0, mention: TaxTreatment.exportMention),
        Case(
            customer: "no-details", details: nil, day: Fixtures.utc(2026, 5, 14), treatment: "domestic", rate: 2000,
            mention: nil),
    ]

    static func buyer(_ country: String, _ vatNumber: String?) -> String {
        let vat = vatNumber.map { #","vatNumber":"\#($0)""# } ?? ""
        return #"{"legalName":"Łódź Müller & Cie","addressLines":["Straße 1"],"postalCode":"1000","city":"Ville","#
            + #""country":"\#(country)"\#(vat)}"#
    }

    /// Quantities and prices whose VAT falls on half a cent, and a credit.
    static let charges: [(quantity: Int64, unit: Int64)] = [(3, 333), (1, 1_999), (1, 2_450), (2, -125)]

    /// The reference: VAT per line with Foundation's decimal arithmetic, rounded half away from zero.
    static func referenceTax(_ amount: Int64, rate: Int) -> Int64 {
        var exact = Decimal(amount) * Decimal(rate) / 10_000
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 0, .plain)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    @Test(arguments: TestDatabase.all)
    func eachVATCaseComesToTheCent(database: TestDatabase) async throws {
        try await AppHarness.run(database, configure: { $0.invoicing = InvoiceSettings(seller: Self.seller) }) {
            app, client in
            let key = app.adminKey
            var issuedPerYear: [Int: Int] = [:]
            for (index, test) in Self.cases.enumerated() {
                app.clock.set(test.day)
                try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"\#(test.customer)"}"#)
                if let details = test.details {
                    let (status, json) = try await client.call(
                        .put, "/v1/customers/\(test.customer)/billing-details", key: key, json: details)
                    #expect(status == .ok, "\(test.customer): \(json)")
                }
                for (line, charge) in Self.charges.enumerated() {
                    let (status, _) = try await client.call(
                        .post, "/v1/customers/\(test.customer)/invoice-items", key: key,
                        json: #"{"description":"Charge \#(line)","quantity":\#(charge.quantity),"#
                            + #""unitAmount":\#(charge.unit),"currency":"EUR","idempotencyKey":"k\#(index)-\#(line)"}"#)
                    #expect(status == .created)
                }
                let (created, draft) = try await client.call(
                    .post, "/v1/invoices", key: key, json: #"{"customer":"\#(test.customer)"}"#)
                #expect(created == .created && draft["status"] as? String == "draft")
                let id = try #require(draft["id"] as? String)
                let (status, invoice) = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
                #expect(status == .ok, "\(test.customer): \(invoice)")
                issuedPerYear[test.day.year, default: 0] += 1
                let number = String(format: "INV-%04d-%06d", test.day.year, issuedPerYear[test.day.year]!)
                #expect(invoice["number"] as? String == number)
                let treatment = try #require(invoice["taxTreatment"] as? [String: Any])
                #expect(treatment["treatment"] as? String == test.treatment, "\(test.customer)")
                #expect(treatment["mention"] as? String == test.mention, "\(test.customer)")
                let lines = try #require(invoice["lines"] as? [[String: Any]])
                let amounts = Self.charges.map { $0.quantity * $0.unit }
                let taxes = amounts.map { Self.referenceTax($0, rate: test.rate) }
                #expect(lines.map { $0["amount"] as? Int64 } == amounts.map(Optional.some))
                #expect(lines.map { $0["taxAmount"] as? Int64 } == taxes.map(Optional.some), "\(test.customer)")
                #expect(lines.allSatisfy { $0["taxRate"] as? Double == Double(test.rate) / 10_000 })
                #expect(invoice["subtotal"] as? Int64 == amounts.reduce(0, +))
                #expect(invoice["tax"] as? Int64 == taxes.reduce(0, +), "\(test.customer)")
                #expect(invoice["total"] as? Int64 == amounts.reduce(0, +) + taxes.reduce(0, +))
                let summary = try #require(invoice["taxes"] as? [[String: Any]])
                #expect(summary.count == 1 && summary.first?["tax"] as? Int64 == taxes.reduce(0, +))
                var expected = [
                    number, "Date of issue: \(InvoicePDF.day(test.day))", "Tollgate Démo SAS", "FR40303265045",
                    "RCS Paris 303 265 045", "Merci !", "Page 1 of 1", "IBAN FR76 3000 6000 0112 3456 7890 189",
                    InvoicePDF.money(amounts.reduce(0, +) + taxes.reduce(0, +), Self.eur),
                    InvoicePDF.money(taxes.reduce(0, +), Self.eur), InvoicePDF.percent(test.rate),
                ]
                expected +=
                    (0..<Self.charges.count).map { "Charge \($0)" } + amounts.map { InvoicePDF.money($0, Self.eur) }
                if test.details != nil { expected.append("Łódź Müller & Cie") }
                if test.customer == "b2b-de" { expected.append("VAT number: DE136695976") }
                if let mention = test.mention { expected.append(mention) }
                try await Self.checkPDF(client, key: key, path: "/v1/invoices/\(id).pdf", contains: expected)
                let seller = try #require(invoice["seller"] as? [String: Any])
                #expect(seller["vatNumber"] as? String == "FR40303265045")
                if test.details != nil {
                    let buyer = try #require(invoice["buyer"] as? [String: Any])
                    #expect(buyer["legalName"] as? String == "Łódź Müller & Cie")
                    if test.customer == "b2b-de" { #expect(buyer["vatNumber"] as? String == "DE136695976") }
                }
            }
        }
    }

    @Test(arguments: TestDatabase.all)
    func theLifecycleNumbersFreezesAndRefusesWhatItMust(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            let (noneYet, _) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"c1"}"#)
            #expect(noneYet == .conflict, "nothing pending")
            let (termsStatus, terms) = try await client.call(
                .put, "/v1/customers/c1/billing-details", key: key,
                json: #"{"legalName":"ACME","addressLines":["1 Main St"],"postalCode":"10115","city":"Berlin","#
                    + #""country":"DE","paymentTermsDays":30}"#)
            #expect(termsStatus == .ok && terms["paymentTermsDays"] as? Int == 30)
            let item = #"{"description":"Setup","unitAmount":5000,"currency":"EUR","idempotencyKey":"setup"}"#
            #expect(
                try await client.call(.post, "/v1/customers/c1/invoice-items", key: key, json: item).status == .created)
            let (replay, replayed) = try await client.call(
                .post, "/v1/customers/c1/invoice-items", key: key, json: item)
            #expect(replay == .ok && replayed["amount"] as? Int64 == 5000)
            let other = #"{"description":"Setup","unitAmount":6000,"currency":"EUR","idempotencyKey":"setup"}"#
            #expect(
                try await client.call(.post, "/v1/customers/c1/invoice-items", key: key, json: other).status
                    == .conflict)

            let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"c1"}"#)
            let id = try #require(draft["id"] as? String)
            #expect(try await client.call(.post, "/v1/invoices/\(id)/pay", key: key).status == .conflict)
            let (_, open) = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
            #expect(open["status"] as? String == "open" && open["number"] as? String == "INV-2026-000001")
            // No seller configured: no VAT, and the invoice says why.
            let treatment = open["taxTreatment"] as? [String: Any]
            #expect(treatment?["treatment"] as? String == "untaxed" && open["tax"] as? Int64 == 0)
            let finalized = try #require((open["finalizedAt"] as? String).flatMap(Self.date))
            let due = try #require((open["dueAt"] as? String).flatMap(Self.date))
            #expect(due.timeIntervalSince(finalized) == 30 * 86_400, "net 30")
            let (again, refusal) = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
            #expect(again == .conflict && (refusal["error"] as? [String: Any])?["code"] as? String == "CONFLICT")
            #expect(
                try await client.call(.post, "/v1/invoices/\(id)/pay", key: key).json["status"] as? String == "paid")
            #expect(try await client.call(.post, "/v1/invoices/\(id)/void", key: key).status == .conflict)
            #expect(try await client.call(.get, "/v1/invoices/\(id)", key: key).json["paidAt"] is String)
            #expect(try await client.call(.get, "/v1/invoices/in_missing", key: key).status == .notFound)
            let (_, paid) = try await client.call(.get, "/v1/customers/c1/invoices?status=paid,void", key: key)
            #expect((paid["invoices"] as? [[String: Any]])?.count == 1)
            let (_, drafts) = try await client.call(.get, "/v1/customers/c1/invoices?status=draft", key: key)
            #expect((drafts["invoices"] as? [[String: Any]])?.isEmpty == true)
            #expect(
                try await client.call(.get, "/v1/customers/c1/invoices?status=sent", key: key).status == .badRequest)
            #expect(try await client.call(.get, "/v1/customers/c1/invoices?status=", key: key).status == .badRequest)
        }
    }

    static func date(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }

    static let eur = Currency("EUR")!

    /// Fetches a PDF twice (the same bytes), checks it with qpdf and reads it back with pdftotext:
    /// every string of `contains` is in its text, accents intact.
    static func checkPDF(_ client: some TestClientProtocol, key: String, path: String, contains: [String])
        async throws
    {
        var bodies: [Data] = []
        for _ in 0..<2 {
            let response = try await client.execute(
                uri: path, method: .get, headers: [.authorization: "Bearer \(key)"])
            #expect(response.status == .ok && response.headers[.contentType] == "application/pdf")
            bodies.append(Data(response.body.readableBytesView))
        }
        #expect(bodies[0] == bodies[1], "the same document gives the same bytes")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("invoice-\(UUID().uuidString).pdf")
        try bodies[0].write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try await PeerProcess.run("/usr/bin/qpdf", ["--check", file.path])
        #expect(check.status == 0, "qpdf --check: \(check.stdout) \(check.stderr)")
        let text = try await PeerProcess.run("/usr/bin/pdftotext", ["-layout", "-enc", "UTF-8", file.path, "-"])
        #expect(text.status == 0, "\(text.stderr)")
        // Runs of spaces and line breaks as one space: a long mention wraps onto several lines.
        let flat = { (text: String) in text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let missing = contains.filter { !flat(text.stdout).contains(flat($0)) }
        #expect(missing.isEmpty, "\(path): \(missing) not in\n\(text.stdout)")
    }

    @Test(arguments: TestDatabase.all)
    func billingDetailsNameTheFieldTheyRefuse(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            let refusals: [(String, String)] = [
                (#""country":"DE","vatNumber":"DE136695977""#, "vatNumber"),
                (#""country":"GR","vatNumber":"GR094259216""#, "vatNumber"),
                (#""country":"de""#, "country"),
                (#""country":"XX""#, "country"),
                (#""country":"DE","paymentTermsDays":400"#, "paymentTermsDays"),
            ]
            for (fields, field) in refusals {
                let (status, json) = try await client.call(
                    .put, "/v1/customers/c1/billing-details", key: key,
                    json: #"{"legalName":"A","addressLines":["1"],"postalCode":"1","city":"B",\#(fields)}"#)
                let error = json["error"] as? [String: Any]
                #expect(status == .badRequest && (error?["message"] as? String)?.hasPrefix(field) == true, "\(json)")
            }
            let (status, json) = try await client.call(
                .put, "/v1/customers/c1/billing-details", key: key,
                json: #"{"legalName":"A","addressLines":[],"postalCode":"1","city":"B","country":"DE"}"#)
            #expect(status == .badRequest && "\(json)".contains("addressLines"))
            #expect(try await client.call(.get, "/v1/customers/c1/billing-details", key: key).status == .notFound)
            let (saved, details) = try await client.call(
                .put, "/v1/customers/c1/billing-details", key: key,
                json: #"{"legalName":"A","addressLines":["1"],"postalCode":"1","city":"B","country":"GR","#
                    + #""vatNumber":"el 094 259 216"}"#)
            #expect(saved == .ok && details["vatNumber"] as? String == "EL094259216")
        }
    }
}

extension Date {
    fileprivate var year: Int { PeriodMath.utcCalendar.component(.year, from: self) }
}

/// Credit notes through the API.
@Suite struct CreditNoteAPITests {
    @Test(arguments: TestDatabase.all)
    func creditNotesCorrectAFinalizedInvoiceInTheirOwnSeries(database: TestDatabase) async throws {
        try await AppHarness.run(
            database, configure: { $0.invoicing = InvoiceSettings(seller: InvoiceAPITests.seller) }
        ) {
            app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            try await client.call(
                .put, "/v1/customers/c1/billing-details", key: key, json: InvoiceAPITests.buyer("DE", nil))
            for (index, unit) in [999, 2_000].enumerated() {
                try await client.call(
                    .post, "/v1/customers/c1/invoice-items", key: key,
                    json:
                        #"{"description":"Item \#(index)","unitAmount":\#(unit),"currency":"EUR","#
                        + #""idempotencyKey":"i\#(index)"}"#
                )
            }
            let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"c1"}"#)
            let id = try #require(draft["id"] as? String)
            let (early, _) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key, json: #"{"idempotencyKey":"early"}"#)
            #expect(early == .conflict, "a draft is changed, not credited")
            let (_, invoice) = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
            #expect(invoice["tax"] as? Int64 == 570, "190 + 380")

            let partial = #"{"lines":[{"line":0,"amount":500}],"reason":"order_change","idempotencyKey":"p1"}"#
            let (created, first) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key, json: partial)
            #expect(created == .created && first["number"] as? String == "CN-2026-000001")
            #expect(
                first["subtotal"] as? Int64 == 500 && first["tax"] as? Int64 == 95 && first["total"] as? Int64 == 595)
            let (replayed, again) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key, json: partial)
            #expect(replayed == .ok && again["id"] as? String == first["id"] as? String)
            let changed = #"{"lines":[{"line":0,"amount":400}],"idempotencyKey":"p1"}"#
            #expect(
                try await client.call(.post, "/v1/invoices/\(id)/credit-notes", key: key, json: changed).status
                    == .conflict)
            let (tooMuch, refusal) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key,
                json: #"{"lines":[{"line":0,"amount":500}],"idempotencyKey":"p2"}"#)
            #expect(tooMuch == .badRequest && "\(refusal)".contains("499 minor units left"))

            let (_, rest) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key, json: #"{"idempotencyKey":"rest"}"#)
            #expect(rest["number"] as? String == "CN-2026-000002")
            #expect(rest["subtotal"] as? Int64 == 2_499 && rest["tax"] as? Int64 == 475, "499 + 2000; 190 - 95 + 380")
            let (_, credited) = try await client.call(.get, "/v1/invoices/\(id)", key: key)
            #expect(credited["credited"] as? Int64 == credited["total"] as? Int64, "credited in full")
            let (_, list) = try await client.call(.get, "/v1/invoices/\(id)/credit-notes", key: key)
            #expect((list["creditNotes"] as? [[String: Any]])?.count == 2)
            let noteId = try #require(first["id"] as? String)
            try await InvoiceAPITests.checkPDF(
                client, key: key, path: "/v1/credit-notes/\(noteId).pdf",
                contains: [
                    "CREDIT NOTE", "CN-2026-000001", "Corrects invoice: INV-2026-000001 of 2026-05-14", "order change",
                    "Item 0", "5.00", "0.95", "Total credited", "5.95 EUR", "Łódź Müller & Cie", "FR40303265045",
                ])
            #expect(try await client.call(.get, "/v1/credit-notes/\(noteId)", key: key).json["memo"] is NSNull)
            let (nothing, _) = try await client.call(
                .post, "/v1/invoices/\(id)/credit-notes", key: key, json: #"{"idempotencyKey":"more"}"#)
            #expect(nothing == .conflict)
        }
    }
}

/// A long invoice runs onto more pages, each numbered, the header repeated.
/// The invoice's document is in its customer's language (labels, dates,
/// amounts, the country's name, the legal mention), and a paid one is stamped so.
@Suite struct InvoiceLanguageTests {
    @Test(arguments: TestDatabase.all)
    func aFrenchCustomersPaidInvoiceIsInFrenchAndAnEnglishOnesInEnglish(database: TestDatabase) async throws {
        try await AppHarness.run(
            database, configure: { $0.invoicing = InvoiceSettings(seller: InvoiceAPITests.seller) }
        ) { app, client in
            let key = app.adminKey
            for (customer, locale, country, vat) in [
                ("fr-buyer", "fr", "DE", "DE136695976"), ("en-buyer", "en", "DE", "DE136695976"),
            ] {
                try await client.call(
                    .post, "/v1/customers", key: key, json: #"{"id":"\#(customer)","locale":"\#(locale)"}"#)
                try await client.call(
                    .put, "/v1/customers/\(customer)/billing-details", key: key,
                    json: InvoiceAPITests.buyer(country, vat))
                try await client.call(
                    .post, "/v1/customers/\(customer)/invoice-items", key: key,
                    json:
                        #"{"description":"Setup","quantity":1,"unitAmount":210000,"currency":"EUR","#
                        + #""idempotencyKey":"k"}"#
                )
                let (_, draft) = try await client.call(
                    .post, "/v1/invoices", key: key, json: #"{"customer":"\#(customer)"}"#)
                let id = try #require(draft["id"] as? String)
                try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
                try await client.call(.post, "/v1/invoices/\(id)/pay", key: key)
                let expected =
                    locale == "fr"
                    ? [
                        "FACTURE", "PAYÉE", "Date d’émission : 14/05/2026", "FACTURÉ À", "Allemagne", "Total TTC",
                        "2 100,00 €", "Autoliquidation — article 196", "N° de TVA : DE136695976", "Page 1 sur 1",
                    ]
                    : [
                        "INVOICE", "PAID", "Date of issue: 2026-05-14", "BILLED TO", "Germany", "Total", "2,100.00 EUR",
                        "Reverse charge — Article 196", "VAT number: DE136695976", "Page 1 of 1",
                    ]
                try await InvoiceAPITests.checkPDF(client, key: key, path: "/v1/invoices/\(id).pdf", contains: expected)
            }
        }
    }
}

@Suite struct InvoicePDFPagesTests {
    @Test func aLongInvoiceRunsOntoNumberedPages() async throws {
        try await AppHarness.run(.sqlite, configure: { $0.invoicing = InvoiceSettings(seller: InvoiceAPITests.seller) })
        {
            app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            for index in 0..<70 {
                try await client.call(
                    .post, "/v1/customers/c1/invoice-items", key: key,
                    json: #"{"description":"Photo job \#(index) — Société Générale, Łódź branch, rush delivery","#
                        + #""unitAmount":\#(100 + index),"currency":"EUR","idempotencyKey":"k\#(index)"}"#)
            }
            let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"c1"}"#)
            let id = try #require(draft["id"] as? String)
            let (_, invoice) = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
            let total = try #require(invoice["total"] as? Int64)
            try await InvoiceAPITests.checkPDF(
                client, key: key, path: "/v1/invoices/\(id).pdf",
                contains: [
                    "Page 1 of 4", "Page 2 of 4", "Page 4 of 4", "Photo job 0 ", "Photo job 69 ", "Société Générale",
                    InvoicePDF.money(total, InvoiceAPITests.eur),
                ])
        }
    }
}

/// The accountant's export and the OSS return.
@Suite struct InvoiceReportAPITests {
    /// Bills `customer` one charge of `amount` and finalizes it: the invoice's id.
    static func invoice(
        _ client: some TestClientProtocol, key: String, customer: String, country: String, vat: String?,
        amount: Int
    ) async throws -> String {
        try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"\#(customer)"}"#)
        try await client.call(
            .put, "/v1/customers/\(customer)/billing-details", key: key, json: InvoiceAPITests.buyer(country, vat))
        try await client.call(
            .post, "/v1/customers/\(customer)/invoice-items", key: key,
            json: #"{"description":"Plan","unitAmount":\#(amount),"currency":"EUR","idempotencyKey":"x"}"#)
        let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"\#(customer)"}"#)
        let id = try #require(draft["id"] as? String)
        try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
        return id
    }

    @Test(arguments: TestDatabase.all)
    func theOSSReturnCountsConsumerSalesLessCreditsAndTheExportEveryRate(database: TestDatabase) async throws {
        try await AppHarness.run(
            database, configure: { $0.invoicing = InvoiceSettings(seller: InvoiceAPITests.seller) }
        ) {
            app, client in
            let key = app.adminKey
            app.clock.set(Fixtures.utc(2027, 2, 10))
            let german = try await Self.invoice(
                client, key: key, customer: "de1", country: "DE", vat: nil, amount: 10_000)
            _ = try await Self.invoice(client, key: key, customer: "de2", country: "DE", vat: nil, amount: 5_000)
            let italian = try await Self.invoice(
                client, key: key, customer: "it", country: "IT", vat: nil, amount: 7_000)
            _ = try await Self.invoice(
                client, key: key, customer: "b2b", country: "DE", vat: "DE136695976", amount: 9_000)
            _ = try await Self.invoice(client, key: key, customer: "fr", country: "FR", vat: nil, amount: 3_000)
            try await client.call(.post, "/v1/invoices/\(italian)/void", key: key)
            try await client.call(
                .post, "/v1/invoices/\(german)/credit-notes", key: key,
                json: #"{"lines":[{"line":0,"amount":2000}],"idempotencyKey":"c"}"#)
            app.clock.set(Fixtures.utc(2027, 4, 2))
            _ = try await Self.invoice(client, key: key, customer: "de3", country: "DE", vat: nil, amount: 1_000)

            let (status, json) = try await client.call(.get, "/v1/tax/oss?quarter=2027-Q1", key: key)
            #expect(status == .ok)
            let lines = try #require(json["lines"] as? [[String: Any]])
            #expect(lines.count == 1, "only Germany: Italy's invoice was voided, the rest is not OSS")
            #expect(lines.first?["country"] as? String == "DE" && lines.first?["rate"] as? Double == 0.19)
            #expect(lines.first?["taxable"] as? Int64 == 13_000, "10000 + 5000 - 2000")
            #expect(lines.first?["tax"] as? Int64 == 2_470, "1900 + 950 - 380")
            #expect(lines.first?["documents"] as? Int == 3)
            #expect(try await client.call(.get, "/v1/tax/oss?quarter=2027-Q5", key: key).status == .badRequest)

            // Revenue analytics count them: invoiced net of VAT (the void one out), less the credit.
            let (_, invoicing) = try await client.call(
                .get, "/v1/analytics/invoicing?currency=EUR&from=2027-01-01&to=2027-05-01", key: key)
            let months = try #require(invoicing["intervals"] as? [[String: Any]])
            #expect(months.count == 4)
            let february = try #require(months.first { ($0["start"] as? String)?.hasPrefix("2027-02") == true })
            #expect(february["invoiced"] as? Int64 == 27_000, "10000 + 5000 + 9000 + 3000: \(february)")
            #expect(february["credited"] as? Int64 == 2_000 && february["net"] as? Int64 == 25_000)
            #expect(february["invoices"] as? Int == 4 && february["creditNotes"] as? Int == 1)
            let april = try #require(months.first { ($0["start"] as? String)?.hasPrefix("2027-04") == true })
            #expect(april["invoiced"] as? Int64 == 1_000)

            let response = try await client.execute(
                uri: "/v1/invoices/export.csv?from=2027-01-01&to=2027-04-01", method: .get,
                headers: [.authorization: "Bearer \(key)"])
            #expect(response.status == .ok)
            let rows = String(buffer: response.body).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(rows.count == 1 + 6, "five invoices and one credit note, one VAT rate each")
            #expect(rows.contains { $0.hasPrefix("credit_note,CN-2027-000001,INV-2027-000001,issued,2027-02-10") })
            #expect(rows.contains { $0.contains(",DE136695976,EUR,reverse_charge,,0.0,9000,0,9000") }, "\(rows)")
        }
    }
}

/// Reminders of an unpaid invoice at due + 3, 7 and 14 days, the last moving its
/// subscription to past due; paying it makes the subscription current again.
@Suite struct DunningTests {
    /// Review of the first period's invoice, issued as the subscription starts, belongs
    /// to it: left unpaid it is dunned into past due; paid, the subscription is current again.
    @Test(arguments: TestDatabase.all)
    func anUnpaidFirstPeriodPutsItsSubscriptionPastDue(database: TestDatabase) async throws {
        try await AppHarness.run(
            database, catalog: try WorkspaceTests.memento, configure: { $0.billingTick = .seconds(365 * 86_400) }
        ) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u1"}"#)
            try await client.call(
                .post, "/v1/billing/subscriptions", key: key,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s"}"#)
            let open = try await client.call(.get, "/v1/customers/u1/invoices?status=open", key: key)
            let first = try #require((open.json["invoices"] as? [[String: Any]])?.first?["id"] as? String)
            let scheduler = app.scheduler()
            app.clock.advance(by: 3 * 86_400 + 60)
            _ = try await scheduler.tick()
            app.clock.advance(by: 11 * 86_400)
            _ = try await scheduler.tick()
            #expect(try await app.store.subscriptions(subject: "u1").first?.0.status == .pastDue)
            #expect(try await client.call(.post, "/v1/invoices/\(first)/pay", key: key).status == .ok)
            #expect(try await app.store.subscriptions(subject: "u1").first?.0.status == .active, "paid: current again")
            let told = try await app.store.outboxMessages(recipient: "customer:u1").filter {
                $0.kind == "event.invoice.paid"
            }
            #expect(told.count == 1 && told.first?.payload.contains(first) == true, "one payment, told once")
        }
    }

    @Test(arguments: TestDatabase.all)
    func anUnpaidInvoiceIsRemindedThenItsSubscriptionGoesPastDue(database: TestDatabase) async throws {
        try await AppHarness.run(
            database, catalog: try WorkspaceTests.memento, configure: { $0.billingTick = .seconds(365 * 86_400) }
        ) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u1"}"#)
            try await client.call(
                .post, "/v1/billing/subscriptions", key: key,
                json: #"{"customer":"u1","plan":"pro","idempotencyKey":"s"}"#)
            // The first period's invoice, issued with the subscription, is paid.
            let opening = try await client.call(.get, "/v1/customers/u1/invoices?status=open", key: key)
            let first = try #require((opening.json["invoices"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await client.call(.post, "/v1/invoices/\(first)/pay", key: key).status == .ok)
            let scheduler = app.scheduler()
            app.clock.advance(by: 31 * 86_400 + 1)
            _ = try await scheduler.tick()
            let issued = try await client.call(.get, "/v1/customers/u1/invoices?status=open", key: key)
            let invoice = try #require((issued.json["invoices"] as? [[String: Any]])?.first)
            let id = try #require(invoice["id"] as? String)
            // A one-off invoice beside it, due now too: no subscription to move.
            try await client.call(
                .post, "/v1/customers/u1/invoice-items", key: key,
                json: #"{"description":"Setup","unitAmount":1000,"currency":"EUR","idempotencyKey":"x"}"#)
            let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"u1"}"#)
            let oneOff = try #require(draft["id"] as? String)
            try await client.call(.post, "/v1/invoices/\(oneOff)/finalize", key: key)

            let reminders = { () async throws -> [(String, Int, Bool)] in
                try await app.store.outboxMessages(recipient: "customer:u1").filter {
                    $0.kind == "event.invoice.overdue"
                }
                .compactMap { message in
                    let body = try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any]
                    let data = try #require(body?["data"] as? [String: Any])
                    return (
                        data["invoiceId"] as? String ?? "", data["reminder"] as? Int ?? 0,
                        data["final"] as? Bool ?? false
                    )
                }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            }
            app.clock.advance(by: 2 * 86_400)
            _ = try await scheduler.tick()
            #expect(try await reminders().isEmpty, "not yet: due + 3 days")
            app.clock.advance(by: 86_400)
            _ = try await scheduler.tick()
            _ = try await scheduler.tick()
            #expect(try await reminders().map(\.1) == [1, 1], "one each, once")
            app.clock.advance(by: 11 * 86_400)
            _ = try await scheduler.tick()
            let sent = try await reminders()
            #expect(sent.map(\.1) == [1, 3, 1, 3], "a stopped server catches up with one reminder, the last")
            #expect(sent.filter(\.2).count == 2)
            let subscription = try #require(try await app.store.subscriptions(subject: "u1").first?.0)
            #expect(subscription.status == .pastDue, "the final reminder moves it to past due")
            #expect(try await app.store.customer(id: "u1")?.planId == "pro", "entitled during the grace period")

            #expect(try await client.call(.post, "/v1/invoices/\(id)/pay", key: key).status == .ok)
            #expect(try await app.store.subscriptions(subject: "u1").first?.0.status == .active, "paid: current again")
            let told = try await app.store.outboxMessages(recipient: "customer:u1").filter {
                $0.kind == "event.invoice.paid"
            }
            #expect(told.count == 2 && told.filter { $0.payload.contains(id) }.count == 1, "one payment, told once")
            app.clock.advance(by: 20 * 86_400)
            _ = try await scheduler.tick()
            #expect(try await reminders().count == 4, "a paid invoice is reminded no more")
        }
    }
}

/// Stripe's invoices mirrored read-only from its webhooks, beside Tollgate's.
@Suite struct StripeInvoiceMirrorTests {
    static func invoiceEvent(_ id: String, type: String, created: Date, status: String) -> [String: Any] {
        let object: [String: Any] = [
            "id": "in_1StripeABC", "object": "invoice", "customer": "cus_1",
            "status": status, "number": "MEMO-0042", "currency": "eur", "created": 1_780_000_000,
            "subtotal": 2_000, "tax": 380, "total": 2_380, "hosted_invoice_url": "https://invoice.stripe.com/i/x",
            "status_transitions": [
                "finalized_at": 1_780_000_100, "paid_at": status == "paid" ? 1_780_000_200 as Any : NSNull(),
            ],
            "lines": [
                "object": "list",
                "data": [
                    [
                        "type": "subscription", "description": "1 × Memento Business", "quantity": 1, "amount": 2_000,
                        "tax_amounts": [["amount": 380]],
                        "period": ["start": 1_780_000_000, "end": 1_782_678_400],
                    ]
                ],
            ],
        ]
        return [
            "id": id, "object": "event", "type": type, "created": Int(created.timeIntervalSince1970),
            "data": ["object": object],
        ]
    }

    @Test(arguments: TestDatabase.all)
    func stripesInvoicesAreListedReadOnlyAndNeverGoBack(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"u1"}"#)
            try await app.store.linkProviderCustomer(provider: "stripe", providerCustomerId: "cus_1", customerId: "u1")
            let now = app.clock.now()
            let deliver = { (id: String, type: String, created: Date, status: String) in
                try await StripeWebhookTests.deliver(
                    client, Self.invoiceEvent(id, type: type, created: created, status: status), signedAt: now
                ).0
            }
            #expect(try await deliver("evt_a", "invoice.finalized", now, "open") == .ok)
            #expect(try await deliver("evt_b", "invoice.paid", now + 60, "paid") == .ok)
            // An older event arriving late changes nothing.
            #expect(try await deliver("evt_c", "invoice.updated", now + 30, "open") == .ok)
            let (_, listed) = try await client.call(.get, "/v1/customers/u1/invoices", key: key)
            let invoice = try #require((listed["invoices"] as? [[String: Any]])?.first)
            #expect(invoice["provider"] as? String == "stripe" && invoice["status"] as? String == "paid")
            #expect(invoice["number"] as? String == "MEMO-0042" && invoice["total"] as? Int64 == 2_380)
            #expect(invoice["tax"] as? Int64 == 380 && invoice["subtotal"] as? Int64 == 2_000)
            #expect(invoice["hostedInvoiceUrl"] as? String == "https://invoice.stripe.com/i/x")
            #expect((invoice["lines"] as? [[String: Any]])?.count == 1, "its lines explain its totals")
            // Read-only: Stripe's invoice changes in Stripe.
            #expect(try await client.call(.post, "/v1/invoices/in_1StripeABC/void", key: key).status == .conflict)
            let credit = try await client.call(
                .post, "/v1/invoices/in_1StripeABC/credit-notes", key: key, json: #"{"idempotencyKey":"k"}"#)
            #expect(credit.status == .conflict)
        }
    }
}

/// A credit pack sold on the invoice (the manual provider).
@Suite struct PackOnInvoiceTests {
    @Test(arguments: TestDatabase.all)
    func aPackIsGrantedNowAndChargedOnTheNextInvoiceOnce(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try CreditAPITests.renzo) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"agent_1"}"#)
            let body = #"{"pack":"pack_50","idempotencyKey":"p1"}"#
            let (status, bought) = try await client.call(
                .post, "/v1/customers/agent_1/credit-packs", key: key, json: body)
            #expect(status == .created && bought["credits"] as? Int == 50 && bought["amount"] as? Int == 1900)
            #expect(
                try await client.call(.post, "/v1/customers/agent_1/credit-packs", key: key, json: body).status == .ok)
            let balances = try await client.call(.get, "/v1/customers/agent_1/credits", key: key)
            #expect((balances.json["balances"] as? [[String: Any]])?.first?["balance"] as? Int == 55, "5 + 50, once")
            let unknown = try await client.call(
                .post, "/v1/customers/agent_1/credit-packs", key: key, json: #"{"pack":"nope","idempotencyKey":"p2"}"#)
            #expect(unknown.status == .badRequest)
            let (_, draft) = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"agent_1"}"#)
            let lines = try #require(draft["lines"] as? [[String: Any]])
            #expect(lines.count == 1 && lines.first?["kind"] as? String == "credit_pack")
            #expect(
                lines.first?["amount"] as? Int == 1900
                    && lines.first?["description"] as? String == "50 credits (credit pack)")
        }
    }
}
