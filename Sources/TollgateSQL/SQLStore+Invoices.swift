import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    public func billingDetails(customer: String) async throws -> BillingDetails? {
        try await provider.read { db in
            try await db.raw(
                """
                SELECT legal_name, address_lines, postal_code, city, country, vat_number, payment_terms_days
                FROM billing_details WHERE customer_id = \(bind: customer)
                """
            ).first().map { row in
                BillingDetails(
                    party: InvoiceParty(
                        legalName: try row.decode(column: "legal_name", as: String.self),
                        addressLines: try JSONDecoder().decode(
                            [String].self, from: Data(try row.decode(column: "address_lines", as: String.self).utf8)),
                        postalCode: try row.decode(column: "postal_code", as: String.self),
                        city: try row.decode(column: "city", as: String.self),
                        country: try row.decode(column: "country", as: String.self),
                        vatNumber: try row.decode(column: "vat_number", as: String?.self)),
                    paymentTermsDays: try row.decode(column: "payment_terms_days", as: Int.self))
            }
        }
    }

    public func setBillingDetails(customer: String, _ details: BillingDetails, at: Date) async throws {
        let lines = String(decoding: try JSONEncoder().encode(details.party.addressLines), as: UTF8.self)
        let party = details.party
        try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO billing_details (customer_id, legal_name, address_lines, postal_code, city, country,
                    vat_number, payment_terms_days, updated_at_ms)
                VALUES (\(bind: customer), \(bind: party.legalName), \(bind: lines), \(bind: party.postalCode),
                    \(bind: party.city), \(bind: party.country), \(bind: party.vatNumber),
                    \(bind: details.paymentTermsDays), \(bind: Millis.from(at)))
                ON CONFLICT (customer_id) DO UPDATE SET legal_name = excluded.legal_name,
                    address_lines = excluded.address_lines, postal_code = excluded.postal_code, city = excluded.city,
                    country = excluded.country, vat_number = excluded.vat_number,
                    payment_terms_days = excluded.payment_terms_days, updated_at_ms = excluded.updated_at_ms
                """
            ).run()
        }
    }

    public func addInvoiceItem(_ item: InvoiceItemRecord) async throws -> (InvoiceItemRecord, created: Bool) {
        try await provider.transaction { db in
            let created =
                try await db.raw(
                    """
                    INSERT INTO invoice_items (id, subject, kind, description, quantity, unit_amount_minor,
                        amount_minor, currency, reference, created_at_ms, position)
                    VALUES (\(bind: item.id), \(bind: item.subject), \(bind: item.kind), \(bind: item.description),
                        \(bind: item.quantity), \(bind: item.unitAmount), \(bind: item.amount.amountMinor),
                        \(bind: item.amount.currency.code), \(bind: item.reference),
                        \(bind: Millis.from(item.createdAt)),
                        \(Self.nextItemPosition(item.subject)))
                    ON CONFLICT (subject, reference) DO NOTHING
                    RETURNING id
                    """
                ).first() != nil
            let stored = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.invoiceItemColumns) FROM invoice_items
                WHERE subject = \(bind: item.subject) AND reference = \(bind: item.reference)
                """
            ).first().map(Self.decodeInvoiceItem)
            guard let stored else { throw InvoiceStoreError.notFound }
            return (stored, created)
        }
    }

    /// Thrown inside the transaction when another invoice claimed one of the items first: the
    /// invoice is rolled back rather than made with lines that are someone else's.
    struct ItemClaimedElsewhere: Error {}

    public func createInvoice(_ invoice: InvoiceRecord, claiming itemIds: [String]) async throws -> Bool {
        do {
            return try await insertInvoice(invoice, claiming: itemIds)
        } catch is ItemClaimedElsewhere {
            return false
        }
    }

    func insertInvoice(_ invoice: InvoiceRecord, claiming itemIds: [String]) async throws -> Bool {
        let lines = String(decoding: try JSONEncoder().encode(invoice.lines), as: UTF8.self)
        return try await provider.transaction { db in
            let inserted =
                try await db.raw(
                    """
                    INSERT INTO invoices (id, subject, subscription_id, status, currency, period_start_ms,
                        period_end_ms, lines, subtotal_minor, tax_minor, total_minor, created_at_ms)
                    VALUES (\(bind: invoice.id), \(bind: invoice.subject), \(bind: invoice.subscriptionId),
                        \(bind: InvoiceStatus.draft.rawValue), \(bind: invoice.currency.code),
                        \(bind: invoice.periodStart.map(Millis.from)), \(bind: invoice.periodEnd.map(Millis.from)),
                        \(bind: lines), \(bind: invoice.subtotal), \(bind: invoice.tax), \(bind: invoice.total),
                        \(bind: Millis.from(invoice.createdAt)))
                    ON CONFLICT (subscription_id, period_start_ms) DO NOTHING
                    RETURNING id
                    """
                ).first() != nil
            guard inserted else { return false }
            for id in itemIds {
                let claimed =
                    try await db.raw(
                        """
                        UPDATE invoice_items SET invoice_id = \(bind: invoice.id) WHERE id = \(bind: id)
                            AND subject = \(bind: invoice.subject) AND invoice_id IS NULL
                        RETURNING id
                        """
                    ).first() != nil
                guard claimed else { throw ItemClaimedElsewhere() }
            }
            return true
        }
    }

    public func invoice(id: String) async throws -> InvoiceRecord? {
        try await provider.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.invoiceColumns) FROM invoices WHERE id = \(bind: id)")
                .first().map(Self.decodeInvoice)
        }
    }

    public func invoices(subject: String, statuses: Set<InvoiceStatus>) async throws -> [InvoiceRecord] {
        let filter: SQLQueryString =
            statuses.isEmpty
            ? ""
            : " AND status IN (\(unsafeRaw: statuses.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")))"
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.invoiceColumns) FROM invoices WHERE subject = \(bind: subject)\(filter)
                ORDER BY created_at_ms DESC, id DESC
                """
            ).all().map(Self.decodeInvoice)
        }
    }

    public func finalizeInvoice(
        id: String, _ finalization: Finalization, afterNumbering: (@Sendable (String) async throws -> Void)?
    ) async throws -> InvoiceRecord {
        let lines = String(decoding: try JSONEncoder().encode(finalization.lines), as: UTF8.self)
        let parties = String(decoding: try JSONEncoder().encode(finalization.parties), as: UTF8.self)
        let year = PeriodMath.utcCalendar.component(.year, from: finalization.at)
        let numbering = finalization.numbering
        let kind = provider.kind
        return try await provider.transaction { db in
            var invoice = try await Self.lockedInvoice(db, id: id, kind: kind)
            guard invoice.status == .draft else { throw InvoiceStoreError.wrongStatus(invoice.status) }
            // The counter row is locked from here to the commit: the next finalization of the
            // series waits, so numbers follow the order of commits and a rollback leaves no gap.
            let number = try await Self.drawNumber(db, numbering, year: year)
            try await afterNumbering?(number)
            invoice.status = .open
            invoice.number = number
            invoice.lines = finalization.lines
            invoice.parties = finalization.parties
            invoice.finalizedAt = finalization.at
            invoice.dueAt = finalization.dueAt
            try await db.raw(
                """
                UPDATE invoices SET status = \(bind: InvoiceStatus.open.rawValue), number = \(bind: number),
                    lines = \(bind: lines), parties = \(bind: parties), subtotal_minor = \(bind: invoice.subtotal),
                    tax_minor = \(bind: invoice.tax), total_minor = \(bind: invoice.total),
                    finalized_at_ms = \(bind: Millis.from(finalization.at)),
                    due_at_ms = \(bind: Millis.from(finalization.dueAt))
                WHERE id = \(bind: id)
                """
            ).run()
            try await Self.enqueue(
                db,
                [
                    try OutboxEvent.message(
                        id: EventIds.derive("invoice.issued", invoice.id), type: "invoice.issued",
                        subject: Subject.customer(invoice.subject), data: InvoiceEventData(invoice),
                        at: finalization.at)
                ], ignoringDuplicates: true)
            return invoice
        }
    }

    public func invoicesAwaitingReminder(now: Date) async throws -> [InvoiceRecord] {
        let firstDelay = Int64(Dunning.reminderDays[0]) * 86_400_000
        return try await provider.read { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.invoiceColumns) FROM invoices
                WHERE status = 'open' AND due_at_ms <= \(bind: Millis.from(now) - firstDelay)
                    AND reminders_sent < \(bind: Dunning.finalReminder)
                ORDER BY due_at_ms, id
                """
            ).all().map(Self.decodeInvoice)
        }
    }

    public func recordReminder(invoiceId: String, number: Int, event: OutboxMessage) async throws -> Bool {
        try await provider.transaction { db in
            let updated =
                try await db.raw(
                    """
                    UPDATE invoices SET reminders_sent = \(bind: number)
                    WHERE id = \(bind: invoiceId) AND status = 'open' AND reminders_sent < \(bind: number)
                    RETURNING id
                    """
                ).first() != nil
            if updated { try await Self.enqueue(db, [event], ignoringDuplicates: true) }
            return updated
        }
    }

    public func mirrorInvoice(_ invoice: InvoiceRecord, version: Date) async throws -> Bool {
        let lines = String(decoding: try JSONEncoder().encode(invoice.lines), as: UTF8.self)
        let at = { @Sendable (date: Date?) in date.map(Millis.from) }
        // How far along a status is: at the same event time, a later status wins.
        let rank = { @Sendable (column: String) -> SQLQueryString in
            """
            CASE \(unsafeRaw: column) WHEN 'draft' THEN 0 WHEN 'open' THEN 1 WHEN 'uncollectible' THEN 2 ELSE 3 END
            """
        }
        return try await provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO invoices (id, subject, subscription_id, status, number, currency, lines, subtotal_minor,
                    tax_minor, total_minor, created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms, voided_at_ms,
                    uncollectible_at_ms, provider, hosted_url, provider_version_ms)
                VALUES (\(bind: invoice.id), \(bind: invoice.subject), \(bind: invoice.subscriptionId),
                    \(bind: invoice.status.rawValue), \(bind: invoice.number), \(bind: invoice.currency.code),
                    \(bind: lines), \(bind: invoice.subtotal), \(bind: invoice.tax), \(bind: invoice.total),
                    \(bind: Millis.from(invoice.createdAt)), \(bind: at(invoice.finalizedAt)),
                    \(bind: at(invoice.dueAt)), \(bind: at(invoice.paidAt)), \(bind: at(invoice.voidedAt)),
                    \(bind: at(invoice.markedUncollectibleAt)),
                    \(bind: invoice.provider), \(bind: invoice.hostedURL), \(bind: Millis.from(version)))
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, number = excluded.number,
                    lines = excluded.lines, subtotal_minor = excluded.subtotal_minor, tax_minor = excluded.tax_minor,
                    total_minor = excluded.total_minor, finalized_at_ms = excluded.finalized_at_ms,
                    due_at_ms = excluded.due_at_ms, paid_at_ms = excluded.paid_at_ms,
                    voided_at_ms = excluded.voided_at_ms, uncollectible_at_ms = excluded.uncollectible_at_ms,
                    hosted_url = excluded.hosted_url, provider_version_ms = excluded.provider_version_ms
                WHERE invoices.provider = excluded.provider
                    AND (invoices.provider_version_ms < excluded.provider_version_ms
                        OR (invoices.provider_version_ms = excluded.provider_version_ms
                            AND \(rank("invoices.status")) <= \(rank("excluded.status"))))
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func transitionInvoice(id: String, _ transition: InvoiceStatus.Transition, at: Date) async throws
        -> InvoiceRecord
    {
        let kind = provider.kind
        return try await provider.transaction { db in
            var invoice = try await Self.lockedInvoice(db, id: id, kind: kind)
            guard transition != .finalize, let next = invoice.status.after(transition) else {
                throw InvoiceStoreError.wrongStatus(invoice.status)
            }
            let column: SQLQueryString
            switch next {
            case .paid: (column, invoice.paidAt) = ("paid_at_ms", at)
            case .void: (column, invoice.voidedAt) = ("voided_at_ms", at)
            default: (column, invoice.markedUncollectibleAt) = ("uncollectible_at_ms", at)
            }
            invoice.status = next
            try await db.raw(
                """
                UPDATE invoices SET status = \(bind: next.rawValue), \(column) = \(bind: Millis.from(at))
                WHERE id = \(bind: id)
                """
            ).run()
            if next == .paid {
                // The receipt, told in the transaction that records the payment.
                try await Self.enqueue(
                    db,
                    [
                        try OutboxEvent.message(
                            id: EventIds.derive("invoice.paid", invoice.id), type: "invoice.paid",
                            subject: Subject.customer(invoice.subject),
                            data: InvoicePaidEventData(paid: invoice, at: at), at: at)
                    ], ignoringDuplicates: true)
            }
            return invoice
        }
    }

    /// The invoice, its row locked to the end of the transaction (SQLite's writer already holds
    /// the database).
    static func lockedInvoice(_ db: any SQLDatabase, id: String, kind: DatabaseKind) async throws -> InvoiceRecord {
        let lock: SQLQueryString = kind == .postgres ? " FOR UPDATE" : ""
        guard
            let invoice = try await db.raw(
                "SELECT \(unsafeRaw: invoiceColumns) FROM invoices WHERE id = \(bind: id)\(lock)"
            ).first().map(decodeInvoice)
        else { throw InvoiceStoreError.notFound }
        return invoice
    }

    /// The next number of a series, from its counter row (incremented, so locked to the commit).
    static func drawNumber(_ db: any SQLDatabase, _ numbering: DocumentNumbering, year: Int) async throws -> String {
        let sequence = try await db.raw(
            """
            INSERT INTO document_counters (series, period, last_issued)
            VALUES (\(bind: numbering.pattern), \(bind: numbering.counterPeriod(year: year)), 1)
            ON CONFLICT (series, period) DO UPDATE SET last_issued = document_counters.last_issued + 1
            RETURNING last_issued
            """
        ).first()?.decode(column: "last_issued", as: Int64.self)
        guard let sequence else { throw InvoiceStoreError.notFound }
        return numbering.format(sequence: sequence, year: year)
    }

    /// The next position among the subject's charges (read in the inserting statement).
    static func nextItemPosition(_ subject: String) -> SQLQueryString {
        "(SELECT COALESCE(MAX(position), 0) + 1 FROM invoice_items WHERE subject = \(bind: subject))"
    }

    static let invoiceColumns = """
        id, subject, subscription_id, status, number, currency, period_start_ms, period_end_ms, lines, parties,
            created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms, voided_at_ms, uncollectible_at_ms, credited_minor,
            reminders_sent, provider, hosted_url
        """

    static func decodeInvoice(_ row: any SQLRow) throws -> InvoiceRecord {
        let date = { (column: String) in try row.decode(column: column, as: Int64?.self).map(Millis.date) }
        var invoice = InvoiceRecord(
            id: try row.decode(column: "id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            subscriptionId: try row.decode(column: "subscription_id", as: String?.self),
            status: InvoiceStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .draft,
            number: try row.decode(column: "number", as: String?.self),
            currency: Currency(try row.decode(column: "currency", as: String.self)) ?? Currency("EUR")!,
            periodStart: try date("period_start_ms"), periodEnd: try date("period_end_ms"),
            lines: try JSONDecoder().decode(
                [InvoiceLine].self, from: Data(try row.decode(column: "lines", as: String.self).utf8)),
            parties: try row.decode(column: "parties", as: String?.self).map {
                try JSONDecoder().decode(InvoiceParties.self, from: Data($0.utf8))
            },
            createdAt: Millis.date(try row.decode(column: "created_at_ms", as: Int64.self)),
            finalizedAt: try date("finalized_at_ms"), dueAt: try date("due_at_ms"))
        invoice.paidAt = try date("paid_at_ms")
        invoice.voidedAt = try date("voided_at_ms")
        invoice.markedUncollectibleAt = try date("uncollectible_at_ms")
        invoice.credited = try row.decode(column: "credited_minor", as: Int64.self)
        invoice.remindersSent = try row.decode(column: "reminders_sent", as: Int.self)
        invoice.provider = try row.decode(column: "provider", as: String.self)
        invoice.hostedURL = try row.decode(column: "hosted_url", as: String?.self)
        return invoice
    }
}
