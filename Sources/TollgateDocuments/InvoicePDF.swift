import Foundation
import TollgateCore
import TollgateStorage

/// Invoices and credit notes as PDF: A4, the seller's and the buyer's blocks,
/// the lines, VAT per rate, totals, the tax mention, payment instructions and the footer — every
/// mention of Article 226 of Council Directive 2006/112/EC that applies. Text is set in DejaVu
/// Sans, embedded as a subset, so any Latin, Greek or Cyrillic name prints as written.
public enum InvoicePDF {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    static let fonts: Result<(TrueTypeFont, TrueTypeFont), Unavailable> = {
        func load(_ name: String) throws -> TrueTypeFont {
            guard let url = Bundle.module.url(forResource: name, withExtension: "ttf") else {
                throw Unavailable(description: "the font \(name).ttf is not in the bundle")
            }
            return try TrueTypeFont(Array(Data(contentsOf: url)))
        }
        do {
            return .success((try load("DejaVuSans"), try load("DejaVuSans-Bold")))
        } catch {
            return .failure(Unavailable(description: "cannot load the invoice font: \(error)"))
        }
    }()

    /// A finalized invoice's document (a draft's is marked as such and has no number), in the
    /// customer's language; a paid one is stamped PAID.
    public static func render(_ invoice: InvoiceRecord, language: DocumentLanguage = .english) throws -> [UInt8] {
        let words = language
        let layout = try Layout(language: language)
        let title = words.t(invoice.status == .draft ? "draft_invoice" : "invoice")
        var facts = [(words.t("date_of_issue"), words.day(invoice.finalizedAt ?? invoice.createdAt))]
        if let due = invoice.dueAt { facts.append((words.t("due_date"), words.day(due))) }
        if let start = invoice.periodStart, let end = invoice.periodEnd {
            facts.append((words.t("period_of_supply"), "\(words.day(start)) – \(words.day(end))"))
        }
        layout.header(
            title: title, number: invoice.number ?? words.t("not_numbered"), facts: facts,
            stamp: invoice.status == .paid ? words.t("paid") : nil)
        layout.parties(invoice.parties)
        let rows = invoice.lines.map { line in
            Layout.Row(
                description: line.description,
                detail: line.periodStart.flatMap { start in
                    line.periodEnd.map { "\(words.day(start)) – \(words.day($0))" }
                },
                quantity: String(line.quantity),
                unit: line.unitAmount.map { words.money($0, invoice.currency, withCurrency: false) } ?? "",
                rate: line.taxRate.map { percent($0, language) } ?? "",
                amount: words.money(line.amount, invoice.currency, withCurrency: false))
        }
        layout.table(rows, headers: ["description", "qty", "unit_price", "vat", "amount"].map(words.t))
        layout.summary(
            rates: InvoiceTax.totals(invoice.lines).map { (percent($0.rate, language), $0.taxable, $0.tax) },
            totals: [
                (words.t("subtotal"), invoice.subtotal), (words.t("vat"), invoice.tax),
                (words.t("total"), invoice.total),
            ],
            currency: invoice.currency)
        layout.closing(
            mention: words.mention(invoice.parties?.treatment),
            payment: invoice.parties?.seller?.paymentInstructions.map { instructions in
                invoice.dueAt.map { "\(instructions) — \(words.t("due")) \(words.day($0))" } ?? instructions
            })
        return layout.finish(
            title: "\(words.t("invoice_title")) \(invoice.number ?? invoice.id)", seller: invoice.parties?.seller)
    }

    /// A credit note, referring to the invoice it corrects, in the customer's language.
    public static func render(_ note: CreditNoteRecord, invoice: InvoiceRecord, language: DocumentLanguage = .english)
        throws -> [UInt8]
    {
        let words = language
        let layout = try Layout(language: language)
        var facts = [(words.t("date_of_issue"), words.day(note.createdAt))]
        facts.append(
            (
                words.t("corrects_invoice"),
                "\(invoice.number ?? invoice.id) \(words.t("of")) "
                    + words.day(invoice.finalizedAt ?? invoice.createdAt)
            ))
        if let reason = note.reason {
            facts.append((words.t("reason"), reason.replacingOccurrences(of: "_", with: " ")))
        }
        layout.header(title: words.t("credit_note"), number: note.number, facts: facts, stamp: nil)
        layout.parties(invoice.parties)
        let rows = note.lines.map { line in
            Layout.Row(
                description: line.description,
                detail: String(format: words.t("line_of_invoice"), line.invoiceLine + 1), quantity: "",
                unit: "", rate: percent(line.taxRate, language),
                amount: words.money(line.amount, note.currency, withCurrency: false))
        }
        layout.table(rows, headers: [words.t("description"), "", "", words.t("vat"), words.t("credited")])
        let rates = Dictionary(grouping: note.lines, by: \.taxRate).sorted { $0.key > $1.key }.map { rate, lines in
            (percent(rate, language), lines.reduce(0) { $0 + $1.amount }, lines.reduce(0) { $0 + $1.taxAmount })
        }
        layout.summary(
            rates: rates,
            totals: [
                (words.t("subtotal"), note.subtotal), (words.t("vat"), note.tax),
                (words.t("total_credited"), note.total),
            ], currency: note.currency)
        layout.closing(mention: words.mention(invoice.parties?.treatment), payment: note.memo)
        return layout.finish(title: "\(words.t("credit_note_title")) \(note.number)", seller: invoice.parties?.seller)
    }

    static func day(_ date: Date) -> String { DayStamp.string(of: date) }

    /// A table cell's amount in English: grouped, without the currency (`2,100.00`).
    static func money(_ amount: Int64, _ currency: Currency) -> String {
        DocumentLanguage.english.money(amount, currency, withCurrency: false)
    }

    static func percent(_ rate: BasisPoints, _ language: DocumentLanguage = .english) -> String {
        let whole = rate / 100, fraction = rate % 100
        let separator = language.code == "fr" ? "," : "."
        let sign = language.code == "fr" ? " %" : "%"
        guard fraction != 0 else { return "\(whole)\(sign)" }
        return fraction % 10 == 0
            ? "\(whole)\(separator)\(fraction / 10)\(sign)"
            : "\(whole)\(separator)\(fraction < 10 ? "0" : "")\(fraction)\(sign)"
    }
}

/// Where things go on the page, top to bottom, starting a new page when the next block does not fit.
final class Layout {
    struct Row {
        let description: String
        let detail: String?
        let quantity: String
        let unit: String
        let rate: String
        let amount: String
    }

    private let canvas: PDFCanvas
    private var y = PDFCanvas.height - PDFCanvas.margin
    private let left = PDFCanvas.margin
    private let right = PDFCanvas.width - PDFCanvas.margin
    /// The right edges of the numeric columns: quantity, unit price, VAT, amount.
    private let columns = [330.0, 410.0, 465.0, PDFCanvas.width - PDFCanvas.margin]

    private let language: DocumentLanguage

    init(language: DocumentLanguage) throws {
        let (regular, bold) = try InvoicePDF.fonts.get()
        canvas = PDFCanvas(regular: regular, bold: bold)
        self.language = language
    }

    private func room(_ height: Double) {
        if y - height < 60 {
            canvas.newPage()
            y = PDFCanvas.height - PDFCanvas.margin
        }
    }

    /// `stamp`: a word set large beside the title (PAID on a paid invoice).
    func header(title: String, number: String, facts: [(String, String)], stamp: String?) {
        canvas.text(title, x: left, y: y - 18, size: 20, weight: .bold)
        if let stamp { canvas.text(stamp, x: left + 200, y: y - 18, size: 20, weight: .bold, gray: 0.55) }
        canvas.text(number, x: right, y: y - 16, size: 12, weight: .bold, align: .right)
        y -= 34
        for (label, value) in facts {
            canvas.text(label + language.colon + value, x: right, y: y, size: 9, align: .right)
            y -= 12
        }
        y -= 14
    }

    func parties(_ parties: InvoiceParties?) {
        let top = y
        var sellerLines: [String] = []
        if let seller = parties?.seller {
            sellerLines = address(seller.party)
            if let registration = seller.registration { sellerLines.append(registration) }
        }
        let sellerBottom = block(
            language.t("from"), sellerLines.isEmpty ? [language.t("no_seller")] : sellerLines, x: left, top: top)
        let buyerLines = parties?.buyer.map(address) ?? [language.t("no_billing_details")]
        let buyerBottom = block(language.t("billed_to"), buyerLines, x: 320, top: top)
        y = min(sellerBottom, buyerBottom) - 22
    }

    private func address(_ party: InvoiceParty) -> [String] {
        var lines = [party.legalName] + party.addressLines
        lines.append([party.postalCode, party.city].filter { !$0.isEmpty }.joined(separator: " "))
        lines.append(language.country(party.country))
        if let vat = party.vatNumber { lines.append(language.t("vat_number") + language.colon + vat) }
        return lines
    }

    /// A labelled block of lines, the first in bold; its bottom.
    private func block(_ label: String, _ lines: [String], x: Double, top: Double) -> Double {
        var at = top
        canvas.text(label.uppercased(), x: x, y: at, size: 7.5, weight: .bold, gray: 0.4)
        at -= 13
        for (index, line) in lines.enumerated() {
            for part in canvas.wrap(line, width: 225, size: 9.5, weight: index == 0 ? .bold : .regular) {
                canvas.text(part, x: x, y: at, size: 9.5, weight: index == 0 ? .bold : .regular)
                at -= 12
            }
        }
        return at
    }

    func table(_ rows: [Row], headers: [String]) {
        tableHeader(headers)
        for row in rows {
            let description = canvas.wrap(row.description, width: 230, size: 9)
            let height = Double(description.count) * 11 + (row.detail == nil ? 0 : 10) + 6
            if y - height < 60 {
                room(height)
                tableHeader(headers)
            }
            var at = y
            for line in description {
                canvas.text(line, x: left, y: at, size: 9)
                at -= 11
            }
            if let detail = row.detail { canvas.text(detail, x: left, y: at + 1, size: 7.5, gray: 0.4) }
            for (value, edge) in zip([row.quantity, row.unit, row.rate, row.amount], columns) {
                canvas.text(value, x: edge, y: y, size: 9, align: .right)
            }
            y -= height
        }
        canvas.rule(from: left, to: right, y: y + 3)
        y -= 12
    }

    private func tableHeader(_ headers: [String]) {
        canvas.text(headers[0], x: left, y: y, size: 8.5, weight: .bold)
        for (header, edge) in zip(headers.dropFirst(), columns) {
            canvas.text(header, x: edge, y: y, size: 8.5, weight: .bold, align: .right)
        }
        canvas.rule(from: left, to: right, y: y - 5)
        y -= 18
    }

    func summary(rates: [(String, Int64, Int64)], totals: [(String, Int64)], currency: Currency) {
        room(Double(rates.count + totals.count) * 13 + 40)
        canvas.text(language.t("vat_rate"), x: left, y: y, size: 8.5, weight: .bold)
        canvas.text(language.t("taxable_amount"), x: 200, y: y, size: 8.5, weight: .bold, align: .right)
        canvas.text(language.t("vat"), x: 270, y: y, size: 8.5, weight: .bold, align: .right)
        var at = y - 13
        for (rate, taxable, tax) in rates {
            canvas.text(rate, x: left, y: at, size: 9)
            canvas.text(language.money(taxable, currency, withCurrency: false), x: 200, y: at, size: 9, align: .right)
            canvas.text(language.money(tax, currency, withCurrency: false), x: 270, y: at, size: 9, align: .right)
            at -= 13
        }
        var totalsAt = y
        for (index, (label, amount)) in totals.enumerated() {
            let last = index == totals.count - 1
            canvas.text(label, x: 360, y: totalsAt, size: last ? 10.5 : 9, weight: last ? .bold : .regular)
            canvas.text(
                language.money(amount, currency), x: right, y: totalsAt, size: last ? 10.5 : 9,
                weight: last ? .bold : .regular, align: .right)
            totalsAt -= last ? 16 : 13
        }
        y = min(at, totalsAt) - 16
    }

    func closing(mention: String?, payment: String?) {
        for (text, weight) in [(mention, PDFCanvas.Weight.bold), (payment, .regular)] {
            guard let text else { continue }
            let lines = canvas.wrap(text, width: right - left, size: 9, weight: weight)
            room(Double(lines.count) * 12 + 6)
            for line in lines {
                canvas.text(line, x: left, y: y, size: 9, weight: weight)
                y -= 12
            }
            y -= 6
        }
    }

    func finish(title: String, seller: SellerProfile?) -> [UInt8] {
        let footer = seller?.footer
        return canvas.document(title: title) { page, pages in
            [footer, String(format: language.t("page_of"), page, pages)].compactMap { $0 }.joined(separator: " · ")
        }
    }
}
