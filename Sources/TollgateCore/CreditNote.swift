import Foundation

/// One line of a credit note: how much of one invoice line is credited (positive amounts, in the
/// invoice's currency), with the VAT that goes with it.
public struct CreditNoteLine: Sendable, Hashable, Codable {
    /// The position of the credited line on the invoice.
    public var invoiceLine: Int
    public var description: String
    /// Net of VAT.
    public var amount: Int64
    public var taxRate: BasisPoints
    public var taxAmount: Int64

    public init(invoiceLine: Int, description: String, amount: Int64, taxRate: BasisPoints, taxAmount: Int64) {
        self.invoiceLine = invoiceLine
        self.description = description
        self.amount = amount
        self.taxRate = taxRate
        self.taxAmount = taxAmount
    }
}

/// Corrections of a finalized invoice: what a credit note may credit. Pure.
public enum CreditNoting {
    /// Why an invoice is credited: Stripe's reasons.
    public static let reasons = ["duplicate", "fraudulent", "order_change", "product_unsatisfactory"]

    public enum Problem: Error, Equatable {
        /// The line does not exist on the invoice, or is not a charge (a credit already).
        case noSuchLine(Int)
        /// More than what is left to credit on the line (net).
        case exceedsLine(Int, left: Int64)
        case nothingLeft
        case notPositive(Int)
    }

    /// The lines of a credit note: `requested` (line position → net amount) or, when nil,
    /// everything not credited yet. `earlier` are the lines of the invoice's earlier credit notes.
    /// VAT is that of the line's credited total, rounded as the invoice's was, less what was
    /// credited before: crediting a line to its end credits exactly the VAT it charged.
    public static func lines(
        of invoice: [InvoiceLine], earlier: [CreditNoteLine], requested: [Int: Int64]?
    ) throws(Problem) -> [CreditNoteLine] {
        var creditedNet: [Int: Int64] = [:]
        var creditedTax: [Int: Int64] = [:]
        for line in earlier {
            creditedNet[line.invoiceLine, default: 0] += line.amount
            creditedTax[line.invoiceLine, default: 0] += line.taxAmount
        }
        let wanted =
            requested
            ?? Dictionary(
                uniqueKeysWithValues: invoice.indices.compactMap { index in
                    let left = invoice[index].amount - creditedNet[index, default: 0]
                    return invoice[index].amount > 0 && left > 0 ? (index, left) : nil
                })
        guard !wanted.isEmpty else { throw .nothingLeft }
        return try wanted.keys.sorted().map { (index: Int) throws(Problem) -> CreditNoteLine in
            let amount = wanted[index]!
            guard invoice.indices.contains(index), invoice[index].amount > 0 else { throw .noSuchLine(index) }
            guard amount > 0 else { throw .notPositive(index) }
            let line = invoice[index]
            let left = line.amount - creditedNet[index, default: 0]
            guard amount <= left else { throw .exceedsLine(index, left: left) }
            let rate = line.taxRate ?? 0
            // VAT of the credited total so far, less what earlier notes credited: parts add up
            // to the line's VAT exactly, however the line is split.
            let creditedAfter = line.amount - left + amount
            let taxAfter =
                creditedAfter == line.amount
                ? line.taxAmount : InvoiceTax.split(creditedAfter, rate: rate, inclusive: false).tax
            let tax = taxAfter - creditedTax[index, default: 0]
            return CreditNoteLine(
                invoiceLine: index, description: line.description, amount: amount, taxRate: rate, taxAmount: tax)
        }
    }
}
