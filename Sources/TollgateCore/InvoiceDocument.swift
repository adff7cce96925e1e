import Foundation

/// Where an invoice is in its life: a draft can change; finalizing numbers and freezes
/// it; an open invoice is then paid, voided or written off. Corrections are credit notes.
public enum InvoiceStatus: String, Sendable, Codable, CaseIterable {
    case draft, open, paid, void, uncollectible

    public enum Transition: String, Sendable, CaseIterable {
        case finalize, pay, void
        case markUncollectible = "mark-uncollectible"
    }

    /// The status after `transition`, or nil when it is not allowed from here.
    public func after(_ transition: Transition) -> InvoiceStatus? {
        switch (self, transition) {
        case (.draft, .finalize): .open
        case (.open, .pay), (.uncollectible, .pay): .paid
        case (.open, .void), (.uncollectible, .void): .void
        case (.open, .markUncollectible): .uncollectible
        default: nil
        }
    }
}

/// How finalized documents are numbered: a pattern such as `INV-{YYYY}-{000001}` (the year of
/// finalization, then the sequence padded to the placeholder's width) and whether the sequence
/// starts again each year. Each series has its own counter.
public struct DocumentNumbering: Sendable, Hashable {
    public let pattern: String
    public let yearlyReset: Bool
    private let width: Int
    private let placeholder: Range<String.Index>

    public static let invoices = try! DocumentNumbering(pattern: "INV-{YYYY}-{000001}")
    public static let creditNotes = try! DocumentNumbering(pattern: "CN-{YYYY}-{000001}")

    public struct Invalid: Error, Equatable {
        public let reason: String
    }

    public init(pattern: String, yearlyReset: Bool = true) throws(Invalid) {
        guard let open = pattern.range(of: "{0"), let close = pattern[open.upperBound...].firstIndex(of: "}"),
            pattern[open.lowerBound..<close].dropFirst().allSatisfy({ $0 == "0" || $0 == "1" }),
            pattern[pattern.index(before: close)] == "1"
        else { throw Invalid(reason: "needs one sequence placeholder such as {000001}") }
        guard pattern.count <= 40 else { throw Invalid(reason: "at most 40 characters") }
        let digits = pattern.distance(from: open.lowerBound, to: close) - 1
        guard (1...12).contains(digits) else { throw Invalid(reason: "the placeholder has 1 to 12 digits") }
        if yearlyReset, !pattern.contains("{YYYY}") {
            throw Invalid(reason: "a yearly reset needs {YYYY} in the pattern, or numbers would repeat")
        }
        self.pattern = pattern
        self.yearlyReset = yearlyReset
        width = digits
        placeholder = open.lowerBound..<pattern.index(after: close)
    }

    /// The counter a document finalized in `year` draws from.
    public func counterPeriod(year: Int) -> Int { yearlyReset ? year : 0 }

    public func format(sequence: Int64, year: Int) -> String {
        let digits = String(sequence)
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return pattern.replacingCharacters(in: placeholder, with: padded)
            .replacingOccurrences(of: "{YYYY}", with: String(format: "%04d", year))
    }
}

/// What Tollgate prints on an invoice beyond its lines, fixed when it is finalized.
public struct InvoiceParties: Sendable, Hashable, Codable {
    public var seller: SellerProfile?
    public var buyer: InvoiceParty?
    public var treatment: TaxTreatment

    public init(seller: SellerProfile?, buyer: InvoiceParty?, treatment: TaxTreatment) {
        self.seller = seller
        self.buyer = buyer
        self.treatment = treatment
    }
}

/// The seller as configured (`seller:` in the file given to `serve --config`).
public struct SellerProfile: Sendable, Hashable, Codable {
    public var party: InvoiceParty
    /// Company registration (e.g. "RCS Paris 123 456 789"), printed under the address.
    public var registration: String?
    public var paymentInstructions: String?
    public var footer: String?

    public init(
        party: InvoiceParty, registration: String? = nil, paymentInstructions: String? = nil, footer: String? = nil
    ) {
        self.party = party
        self.registration = registration
        self.paymentInstructions = paymentInstructions
        self.footer = footer
    }
}

extension Invoicing {
    /// The lines with VAT applied under `treatment`: per line, its net amount and VAT
    /// (`InvoiceTax.split`).
    public static func taxed(_ lines: [InvoiceLine], treatment: TaxTreatment, inclusive: Bool) -> [InvoiceLine] {
        lines.map { line in
            var line = line
            let split = InvoiceTax.split(line.amount, rate: treatment.rate, inclusive: inclusive && treatment.rate > 0)
            line.amount = split.net
            line.taxAmount = split.tax
            line.taxRate = treatment.rate
            return line
        }
    }

    /// When an invoice finalized at `finalizedAt` is due: on receipt, or `termsDays` later.
    public static func dueDate(finalizedAt: Date, termsDays: Int) -> Date {
        finalizedAt.addingTimeInterval(TimeInterval(termsDays) * 86_400)
    }
}

/// Reminders of an open invoice past its due date: at due + 3, 7 and 14 days; the
/// last one also moves its subscription to past due, from where the grace period leads to
/// suspension.
public enum Dunning {
    public static let reminderDays = [3, 7, 14]

    /// How many reminders an invoice due at `dueAt` should have had by `now`.
    public static func remindersDue(dueAt: Date, now: Date) -> Int {
        reminderDays.filter { now >= dueAt.addingTimeInterval(TimeInterval($0) * 86_400) }.count
    }

    public static var finalReminder: Int { reminderDays.count }
}
