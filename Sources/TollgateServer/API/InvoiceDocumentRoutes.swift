import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateDocuments
import TollgateIdentity
import TollgateStorage

/// Tollgate's own invoices through their life: the buyer's billing details, one-off
/// charges, drafts, finalization (number, VAT) and the statuses after it.
struct InvoiceDocumentRoutes: Sendable {
    let invoices: InvoiceService
    /// Told when an invoice is paid: a subscription past due because of it recovers.
    let subscriptions: SubscriptionService
    let documents: DocumentRenderer

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin)
            .get("invoices/export.csv", use: export)
            .get("tax/oss", use: oss)
        v1.requiring(.customersWrite)
            .put("customers/{id}/billing-details", use: setBillingDetails)
        v1.requiring(.entitlementsRead)
            .get("customers/{id}/billing-details", use: billingDetails)
            .get("customers/{id}/invoices", use: list)
            .get("invoices/{id}", use: show)
            .get("invoices/{id}.pdf", use: invoicePDF)
            .get("credit-notes/{id}.pdf", use: creditNotePDF)
            .get("invoices/{id}/credit-notes", use: creditNotes)
            .get("credit-notes/{id}", use: creditNote)
        v1.requiring(.billingWrite)
            .post("customers/{id}/invoice-items", use: addItem)
            .post("invoices", use: createDraft)
            .post("invoices/{id}/credit-notes", use: issueCreditNote)
            .post("invoices/{id}/finalize") { try await transition(InvoiceStatus.Transition.finalize, $0, $1) }
            .post("invoices/{id}/pay") { try await transition(InvoiceStatus.Transition.pay, $0, $1) }
            .post("invoices/{id}/void") { try await transition(InvoiceStatus.Transition.void, $0, $1) }
            .post("invoices/{id}/mark-uncollectible") {
                try await transition(InvoiceStatus.Transition.markUncollectible, $0, $1)
            }
    }

    struct BillingDetailsBody: Decodable {
        let legalName: String
        let addressLines: [String]
        let postalCode: String
        let city: String
        let country: String
        var vatNumber: String?
        var paymentTermsDays: WholeNumber?
    }

    struct BillingDetailsResponse: Encodable {
        let customer: String
        let legalName: String
        let addressLines: [String]
        let postalCode: String
        let city: String
        let country: String
        @NullEncoded var vatNumber: String?
        let paymentTermsDays: Int

        init(customer: String, _ details: BillingDetails) {
            self.customer = customer
            legalName = details.party.legalName
            addressLines = details.party.addressLines
            postalCode = details.party.postalCode
            city = details.party.city
            country = details.party.country
            vatNumber = details.party.vatNumber
            paymentTermsDays = details.paymentTermsDays
        }
    }

    @Sendable func setBillingDetails(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: BillingDetailsBody.self, context: context)
        let details = try BillingDetailsRules.validated(body)
        try await invoices.setBillingDetails(customer: id, details)
        return EditedResponse(status: .ok, response: BillingDetailsResponse(customer: id, details))
    }

    @Sendable func billingDetails(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        guard let details = try await invoices.billingDetails(customer: id) else {
            throw DomainError(.notFound, "customer \(id) has no billing details", field: "id")
        }
        return EditedResponse(status: .ok, response: BillingDetailsResponse(customer: id, details))
    }

    struct ItemBody: Decodable {
        let description: String
        let quantity: WholeNumber?
        let unitAmount: WholeNumber
        let currency: String
        let idempotencyKey: String
    }

    struct ItemResponse: Encodable {
        let id: String
        let customer: String
        let description: String
        let quantity: Int64
        let unitAmount: Int64
        let amount: Int64
        let currency: String
        @NullEncoded var invoice: String?
    }

    @Sendable func addItem(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: ItemBody.self, context: context)
        let description = try BillingDetailsRules.text(body.description, field: "description", maximum: 500)
        let quantity = body.quantity?.value ?? 1
        guard (1...1_000_000).contains(quantity) else {
            throw DomainError.invalidField("quantity", "must be a whole number from 1 to 1000000")
        }
        guard (-1_000_000_000_000...1_000_000_000_000).contains(body.unitAmount.value) else {
            throw DomainError.invalidField("unitAmount", "must be whole minor units within ±1000000000000")
        }
        guard let currency = Currency(body.currency), body.currency.allSatisfy(\.isLetter) else {
            throw DomainError.invalidField("currency", "not an ISO 4217 currency code")
        }
        let (item, created) = try await invoices.addItem(
            customer: id, description: description, quantity: quantity, unitAmount: body.unitAmount.value,
            currency: currency, idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        return EditedResponse(
            status: created ? .created : .ok,
            response: ItemResponse(
                id: item.id, customer: item.subject, description: item.description, quantity: item.quantity,
                unitAmount: item.unitAmount ?? item.amount.amountMinor, amount: item.amount.amountMinor,
                currency: item.amount.currency.code, invoice: item.invoiceId))
    }

    struct DraftBody: Decodable {
        let customer: String
        let currency: String?
    }

    @Sendable func createDraft(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let body = try await request.decode(as: DraftBody.self, context: context)
        let customer = try Validate.identifier(body.customer, field: "customer")
        let currency = try body.currency.map { code in
            guard let currency = Currency(code), code.allSatisfy(\.isLetter) else {
                throw DomainError.invalidField("currency", "not an ISO 4217 currency code")
            }
            return currency
        }
        let draft = try await invoices.createDraft(customer: customer, currency: currency)
        return EditedResponse(status: .created, response: InvoiceDocument(draft))
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        return EditedResponse(status: .ok, response: InvoiceDocument(try await invoices.invoice(id: id)))
    }

    func transition(_ transition: InvoiceStatus.Transition, _ request: Request, _ context: AuthenticatedContext)
        async throws -> EditedResponse<InvoiceDocument>
    {
        let id = try Validate.pathIdentifier(context)
        let invoice = try await InvoiceActions.apply(
            transition, to: id, invoices: invoices, subscriptions: subscriptions)
        return EditedResponse(status: .ok, response: InvoiceDocument(invoice))
    }

    @Sendable func invoicePDF(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let invoice = try await invoices.invoice(id: try Validate.pathIdentifier(context))
        try InvoiceService.requireOwn(invoice)
        return TextAnswer.pdf(try await documents.pdf(invoice), filename: "\(invoice.number ?? invoice.id).pdf")
    }

    @Sendable func creditNotePDF(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let note = try await invoices.creditNote(id: try Validate.pathIdentifier(context))
        let invoice = try await invoices.invoice(id: note.invoiceId)
        return TextAnswer.pdf(try await documents.pdf(note, invoice: invoice), filename: "\(note.number).pdf")
    }

    struct CreditNoteBody: Decodable {
        struct Line: Decodable {
            let line: WholeNumber
            let amount: WholeNumber
        }
        let lines: [Line]?
        let reason: String?
        let memo: String?
        let idempotencyKey: String
    }

    @Sendable func issueCreditNote(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: CreditNoteBody.self, context: context)
        var requested: [Int: Int64]?
        if let lines = body.lines {
            guard (1...500).contains(lines.count) else {
                throw DomainError.invalidField("lines", "must hold 1 to 500 lines (omit it to credit everything)")
            }
            var wanted: [Int: Int64] = [:]
            for (index, line) in lines.enumerated() {
                guard (0...9_999).contains(line.line.value) else {
                    throw DomainError.invalidField("lines[\(index)].line", "must be a line position from 0")
                }
                guard (1...1_000_000_000_000).contains(line.amount.value) else {
                    throw DomainError.invalidField("lines[\(index)].amount", "must be from 1 to 1000000000000")
                }
                guard wanted.updateValue(line.amount.value, forKey: Int(line.line.value)) == nil else {
                    throw DomainError.invalidField("lines[\(index)].line", "names a line given before")
                }
            }
            requested = wanted
        }
        if let reason = body.reason, !CreditNoting.reasons.contains(reason) {
            throw DomainError.invalidField("reason", "must be one of \(CreditNoting.reasons.joined(separator: ", "))")
        }
        let memo = try body.memo.map { try BillingDetailsRules.text($0, field: "memo", maximum: 500) }
        let (note, created) = try await invoices.creditNote(
            invoice: id, requested: requested, reason: body.reason, memo: memo,
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        return EditedResponse(status: created ? .created : .ok, response: CreditNoteDocument(note))
    }

    struct CreditNoteList: Encodable {
        let invoice: String
        let creditNotes: [CreditNoteDocument]
    }

    @Sendable func creditNotes(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        let notes = try await invoices.creditNotes(invoice: id)
        return EditedResponse(
            status: .ok, response: CreditNoteList(invoice: id, creditNotes: notes.map(CreditNoteDocument.init)))
    }

    @Sendable func creditNote(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        return EditedResponse(status: .ok, response: CreditNoteDocument(try await invoices.creditNote(id: id)))
    }

    /// `GET /v1/invoices/export.csv?from=&to=`: one line per document and VAT rate.
    @Sendable func export(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (from, to) = try QueryDate.range(request, now: invoices.now)
        var csv = CSVWriter(header: [
            "document", "number", "invoice_number", "status", "date", "due_date", "customer", "buyer_name",
            "buyer_country", "buyer_vat_number", "currency", "treatment", "tax_country", "vat_rate", "taxable_minor",
            "vat_minor", "total_minor",
        ])
        for row in try await invoices.export(from: from, to: to) {
            csv.append([
                .text(row.document), .text(row.number), row.invoiceNumber.map(CSVWriter.Cell.text) ?? .empty,
                .text(row.status), .text(AnalyticsQuery.dayText(row.date)),
                row.dueDate.map { .text(AnalyticsQuery.dayText($0)) } ?? .empty, .text(row.customer),
                row.buyer.map { .text($0.legalName) } ?? .empty, row.buyer.map { .text($0.country) } ?? .empty,
                row.buyer?.vatNumber.map(CSVWriter.Cell.text) ?? .empty, .text(row.currency.code),
                .text(row.treatment.rawValue), row.taxCountry.map(CSVWriter.Cell.text) ?? .empty,
                .decimal(InvoiceDocument.decimal(row.rate)), .number(row.taxable), .number(row.tax),
                .number(row.taxable + row.tax),
            ])
        }
        return TextAnswer.csv(
            csv, filename: "invoices-\(AnalyticsQuery.dayText(from))-\(AnalyticsQuery.dayText(to)).csv")
    }

    struct OSSReturn: Encodable {
        struct Line: Encodable {
            let country: String
            let rate: Double
            let currency: String
            let taxable: Int64
            let tax: Int64
            let documents: Int
        }
        let quarter: String
        let from: Date
        let to: Date
        let lines: [Line]
    }

    /// `GET /v1/tax/oss?quarter=2027-Q1`.
    @Sendable func oss(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let text = request.uri.queryParameters.get("quarter") ?? ""
        guard let (from, to) = InvoiceReports.quarter(text) else {
            throw HTTPOnlyError(.invalidQuery, "quarter: expected a quarter such as 2027-Q1", field: "quarter")
        }
        let lines = try await invoices.oss(from: from, to: to).map {
            OSSReturn.Line(
                country: $0.country, rate: InvoiceDocument.decimal($0.rate), currency: $0.currency.code,
                taxable: $0.taxable, tax: $0.tax, documents: $0.documents)
        }
        return EditedResponse(status: .ok, response: OSSReturn(quarter: text, from: from, to: to, lines: lines))
    }

    struct InvoiceList: Encodable {
        let customer: String
        let invoices: [InvoiceDocument]
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        var statuses: Set<InvoiceStatus> = []
        let values = request.uri.queryParameters.getAll("status")
        for value in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            guard let status = InvoiceStatus(rawValue: String(value)) else {
                throw HTTPOnlyError(
                    .invalidQuery,
                    "status: expected \(InvoiceStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                    field: "status")
            }
            statuses.insert(status)
        }
        let found = try await invoices.invoices(subject: id, statuses: statuses)
        return EditedResponse(
            status: .ok, response: InvoiceList(customer: id, invoices: found.map(InvoiceDocument.init)))
    }
}

/// What `PUT /v1/customers/{id}/billing-details` accepts.
enum BillingDetailsRules {
    /// ISO 3166-1 alpha-2 codes ICU knows, without the groupings it lists beside them.
    static let countries: Set<String> = Set(
        Locale.Region.isoRegions.map(\.identifier).filter { $0.count == 2 && $0.allSatisfy(\.isLetter) }
    )
    .subtracting(["EU", "EZ", "UN", "QO", "ZZ"])

    static func validated(_ body: InvoiceDocumentRoutes.BillingDetailsBody) throws -> BillingDetails {
        let legalName = try text(body.legalName, field: "legalName", maximum: 200)
        guard (1...4).contains(body.addressLines.count) else {
            throw DomainError.invalidField("addressLines", "must hold 1 to 4 lines")
        }
        let lines = try body.addressLines.enumerated().map {
            try text($0.element, field: "addressLines[\($0.offset)]", maximum: 200)
        }
        let postalCode = body.postalCode.trimmingCharacters(in: .whitespaces)
        guard postalCode.unicodeScalars.count <= 20, !postalCode.unicodeScalars.contains(where: \.isControlCharacter)
        else {
            throw DomainError.invalidField("postalCode", "must be at most 20 characters, without control characters")
        }
        let city = try text(body.city, field: "city", maximum: 100)
        guard countries.contains(body.country) else {
            throw DomainError.invalidField("country", "must be an ISO 3166-1 alpha-2 code in upper case, such as DE")
        }
        let vatNumber = try body.vatNumber.map { number in
            if VATNumber.checks(body.country) {
                guard let valid = VATNumber.validated(number, country: body.country) else {
                    throw DomainError.invalidField(
                        "vatNumber",
                        "not a valid VAT number for \(body.country): it starts with "
                            + "\(VATNumber.prefix(of: body.country)) and its check digits must match")
                }
                return valid
            }
            // Elsewhere: a tax id printed as given.
            return try text(number, field: "vatNumber", maximum: 40)
        }
        let terms = body.paymentTermsDays?.value ?? 0
        guard (0...365).contains(terms) else {
            throw DomainError.invalidField("paymentTermsDays", "must be a whole number of days from 0 to 365")
        }
        return BillingDetails(
            party: InvoiceParty(
                legalName: legalName, addressLines: lines, postalCode: postalCode, city: city, country: body.country,
                vatNumber: vatNumber),
            paymentTermsDays: Int(terms))
    }

    /// Text a person reads on an invoice: the one rule for names (`DisplayName`).
    static func text(_ value: String, field: String, maximum: Int) throws -> String {
        try DisplayName.validated(value, field: field, maximum: maximum)
    }

}
