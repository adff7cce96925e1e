import Foundation
import Yams

/// How Tollgate's own invoices are issued: who sells, how documents are numbered, and
/// the VAT choices the seller made. Read from the file given to `serve --config`; without a
/// seller, invoices carry no VAT and say so.
public struct InvoiceSettings: Sendable, Hashable {
    public var seller: SellerProfile?
    public var numbering: DocumentNumbering
    public var creditNoteNumbering: DocumentNumbering
    /// The seller's cross-border B2C sales stay under €10,000 a year: its own rate applies.
    public var underOSSThreshold: Bool
    /// Catalog currencies whose prices include VAT.
    public var taxInclusiveCurrencies: Set<Currency>
    /// With the Stripe provider: Stripe Tax computes VAT on Stripe's invoices, and Checkout asks
    /// businesses for their VAT number.
    public var stripe = StripeTax()

    public struct StripeTax: Sendable, Hashable {
        public var automaticTax = false
        public var taxIdCollection = false

        public init(automaticTax: Bool = false, taxIdCollection: Bool = false) {
            self.automaticTax = automaticTax
            self.taxIdCollection = taxIdCollection
        }
    }

    public init(
        seller: SellerProfile? = nil, numbering: DocumentNumbering = .invoices,
        creditNoteNumbering: DocumentNumbering = .creditNotes, underOSSThreshold: Bool = false,
        taxInclusiveCurrencies: Set<Currency> = []
    ) {
        self.seller = seller
        self.numbering = numbering
        self.creditNoteNumbering = creditNoteNumbering
        self.underOSSThreshold = underOSSThreshold
        self.taxInclusiveCurrencies = taxInclusiveCurrencies
    }

    /// Reads the `seller:` and `invoices:` sections of a server configuration file (other
    /// top-level sections are left to their own readers); every problem is reported with its path.
    public static func load(yaml: String) throws(CatalogError) -> InvoiceSettings {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw CatalogError(issues: [CatalogIssue(path: "", message: "not valid YAML: \(error)")])
        }
        guard let root else { return InvoiceSettings() }
        var reader = SettingsReader()
        let settings = reader.settings(root)
        guard reader.yaml.issues.isEmpty else { throw CatalogError(issues: reader.yaml.issues) }
        return settings
    }
}

private struct SettingsReader {
    var yaml = YAMLReader()

    mutating func settings(_ root: Node) -> InvoiceSettings {
        var settings = InvoiceSettings()
        guard let top = yaml.mapping(root, "", allowed: ["seller", "invoices"]) else { return settings }
        settings.seller = top["seller"].flatMap { seller($0) }
        if let node = top["invoices"],
            let invoices = yaml.mapping(
                node, "invoices",
                allowed: [
                    "numbering", "creditNoteNumbering", "yearlyReset", "underOSSThreshold", "taxInclusiveCurrencies",
                ])
        {
            let yearlyReset = invoices["yearlyReset"].flatMap { yaml.bool($0, "invoices.yearlyReset") } ?? true
            settings.numbering =
                numbering(invoices["numbering"], "invoices.numbering", yearlyReset) ?? settings.numbering
            settings.creditNoteNumbering =
                numbering(invoices["creditNoteNumbering"], "invoices.creditNoteNumbering", yearlyReset)
                ?? settings.creditNoteNumbering
            settings.underOSSThreshold =
                invoices["underOSSThreshold"].flatMap { yaml.bool($0, "invoices.underOSSThreshold") } ?? false
            settings.stripe.automaticTax =
                invoices["stripeAutomaticTax"].flatMap { yaml.bool($0, "invoices.stripeAutomaticTax") } ?? false
            settings.stripe.taxIdCollection =
                invoices["stripeTaxIdCollection"].flatMap { yaml.bool($0, "invoices.stripeTaxIdCollection") } ?? false
            let currencies = invoices["taxInclusiveCurrencies"].flatMap {
                yaml.sequence($0, "invoices.taxInclusiveCurrencies")
            }
            for (index, node) in (currencies ?? []).enumerated() {
                let path = YAMLReader.index("invoices.taxInclusiveCurrencies", index)
                guard let code = yaml.string(node, path) else { continue }
                guard let currency = Currency(code) else {
                    yaml.report(path, "not an ISO 4217 currency code", node)
                    continue
                }
                settings.taxInclusiveCurrencies.insert(currency)
            }
        }
        return settings
    }

    mutating func numbering(_ node: Node?, _ path: String, _ yearlyReset: Bool) -> DocumentNumbering? {
        guard let node, let pattern = yaml.string(node, path) else { return nil }
        do {
            return try DocumentNumbering(pattern: pattern, yearlyReset: yearlyReset)
        } catch {
            yaml.report(path, error.reason, node)
            return nil
        }
    }

    mutating func seller(_ node: Node) -> SellerProfile? {
        let keys: Set<String> = [
            "legalName", "addressLines", "postalCode", "city", "country", "vatNumber", "registration",
            "paymentInstructions", "footer",
        ]
        guard let fields = yaml.mapping(node, "seller", allowed: keys) else { return nil }
        let text = { (reader: inout YAMLReader, key: String) -> String? in
            fields[key].flatMap { reader.string($0, "seller.\(key)") }
        }
        let required = { (reader: inout YAMLReader, key: String) -> String? in
            if fields[key] == nil { reader.report("seller.\(key)", "is required", node) }
            return text(&reader, key)
        }
        let lines = fields["addressLines"].flatMap { yaml.sequence($0, "seller.addressLines") }?.enumerated()
            .compactMap { yaml.string($0.element, YAMLReader.index("seller.addressLines", $0.offset)) }
        if lines?.isEmpty ?? true { yaml.report("seller.addressLines", "needs at least one line", node) }
        let legalName = required(&yaml, "legalName")
        let postalCode = text(&yaml, "postalCode") ?? ""
        let city = required(&yaml, "city")
        let country = required(&yaml, "country")
        if let country, !EUVATRates.isMemberState(country) {
            yaml.report("seller.country", "Tollgate computes EU VAT: the seller must be in an EU member state", node)
        }
        var vatNumber = text(&yaml, "vatNumber")
        if let number = vatNumber, let country {
            vatNumber = VATNumber.validated(number, country: country)
            if vatNumber == nil { yaml.report("seller.vatNumber", "not a valid VAT number for \(country)", node) }
        }
        guard let legalName, let lines, !lines.isEmpty, let city, let country else { return nil }
        return SellerProfile(
            party: InvoiceParty(
                legalName: legalName, addressLines: lines, postalCode: postalCode, city: city, country: country,
                vatNumber: vatNumber),
            registration: text(&yaml, "registration"), paymentInstructions: text(&yaml, "paymentInstructions"),
            footer: text(&yaml, "footer"))
    }
}
