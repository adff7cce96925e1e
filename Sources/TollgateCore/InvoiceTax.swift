import Foundation

/// Who sells or buys, as printed on an invoice (Article 226 of Council Directive 2006/112/EC:
/// full name and address, and the VAT numbers where required).
public struct InvoiceParty: Sendable, Hashable, Codable {
    public var legalName: String
    public var addressLines: [String]
    public var postalCode: String
    public var city: String
    /// ISO 3166-1 alpha-2, upper case (GR for Greece).
    public var country: String
    /// With its country prefix (EL for Greece), compacted; nil for a consumer.
    public var vatNumber: String?

    public init(
        legalName: String, addressLines: [String], postalCode: String, city: String, country: String,
        vatNumber: String? = nil
    ) {
        self.legalName = legalName
        self.addressLines = addressLines
        self.postalCode = postalCode
        self.city = city
        self.country = country
        self.vatNumber = vatNumber
    }
}

/// How VAT applies to one sale, decided from the seller, the buyer and the date.
public struct TaxTreatment: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// The seller's country's rate: a domestic sale, or B2C under the OSS threshold.
        case domestic
        /// B2C to another member state: the buyer's country's rate, declared through the OSS.
        case oneStopShop = "oss"
        /// B2B to another member state: 0 %, the buyer accounts for the VAT.
        case reverseCharge = "reverse_charge"
        /// The buyer is outside the EU: no EU VAT.
        case export
        /// No seller is configured: Tollgate computes no VAT and says so.
        case untaxed
    }

    public let kind: Kind
    /// The country whose rate applies (nil when no VAT is charged).
    public let country: String?
    public let rate: BasisPoints
    /// What the invoice must say about it (Article 226 (11) and (11a)).
    public let mention: String?

    public init(kind: Kind, country: String?, rate: BasisPoints, mention: String?) {
        self.kind = kind
        self.country = country
        self.rate = rate
        self.mention = mention
    }

    public static let reverseChargeMention = "Reverse charge — Article 196, Council Directive 2006/112/EC"
    public static let exportMention =
        "VAT not applicable: place of supply outside the EU — Articles 44 and 59, Council Directive 2006/112/EC"
    public static let untaxedMention = "VAT not computed: no seller is configured"

    public enum Problem: Error, Equatable {
        /// The seller's country has no rate on that day (not a member state, or before the table).
        case noRate(country: String)
    }

    /// - Parameters:
    ///   - underOSSThreshold: the seller's cross-border B2C sales stay under €10,000 a year, so
    ///     its own rate applies to consumers in other member states (Article 59c).
    public static func decide(
        seller: InvoiceParty?, buyer: InvoiceParty?, on date: Date, underOSSThreshold: Bool = false
    ) throws -> TaxTreatment {
        guard let seller else { return TaxTreatment(kind: .untaxed, country: nil, rate: 0, mention: untaxedMention) }
        guard let sellerRate = EUVATRates.rate(country: seller.country, on: date) else {
            throw Problem.noRate(country: seller.country)
        }
        let domestic = TaxTreatment(kind: .domestic, country: seller.country, rate: sellerRate, mention: nil)
        // No billing details: the sale is treated as domestic B2C (Article 45's default place).
        guard let buyer, buyer.country != seller.country else { return domestic }
        guard let buyerRate = EUVATRates.rate(country: buyer.country, on: date) else {
            return TaxTreatment(kind: .export, country: nil, rate: 0, mention: exportMention)
        }
        if buyer.vatNumber != nil {
            return TaxTreatment(kind: .reverseCharge, country: nil, rate: 0, mention: reverseChargeMention)
        }
        if underOSSThreshold { return domestic }
        return TaxTreatment(kind: .oneStopShop, country: buyer.country, rate: buyerRate, mention: nil)
    }
}

/// VAT on invoice lines, in integer minor units.
///
/// Rounding rule (docs/invoices.md): VAT is computed per line, `amount × rate / 10 000` rounded
/// half away from zero to the minor unit; the totals per rate are sums of the lines' VAT. With
/// tax-inclusive prices, the line's price is gross: its net is `gross × 10 000 / (10 000 + rate)`
/// rounded the same way, and its VAT the difference, so net + VAT is always the price.
public enum InvoiceTax {
    public struct Split: Sendable, Hashable {
        public let net: Int64
        public let tax: Int64
    }

    public static func split(_ amount: Int64, rate: BasisPoints, inclusive: Bool) -> Split {
        if inclusive {
            let net = divideRounded(amount * 10_000, by: Int64(10_000 + rate))
            return Split(net: net, tax: amount - net)
        }
        return Split(net: amount, tax: divideRounded(amount * Int64(rate), by: 10_000))
    }

    /// `numerator / denominator` (denominator > 0) rounded half away from zero.
    public static func divideRounded(_ numerator: Int64, by denominator: Int64) -> Int64 {
        let quotient = numerator / denominator
        let remainder = numerator % denominator
        guard remainder.magnitude * 2 >= denominator.magnitude else { return quotient }
        return numerator < 0 ? quotient - 1 : quotient + 1
    }

    /// One VAT rate's share of an invoice: Article 226 (8) and (10).
    public struct RateTotal: Sendable, Hashable, Codable {
        public let rate: BasisPoints
        public let taxable: Int64
        public let tax: Int64
    }

    /// Taxable amount and VAT per rate, highest rate first.
    public static func totals(_ lines: [InvoiceLine]) -> [RateTotal] {
        Dictionary(grouping: lines, by: { $0.taxRate ?? 0 }).map { rate, lines in
            RateTotal(
                rate: rate, taxable: lines.reduce(0) { $0 + $1.amount }, tax: lines.reduce(0) { $0 + $1.taxAmount })
        }.sorted { $0.rate > $1.rate }
    }
}
