import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct VATNumberTests {
    /// python-stdnum is the reference: numbers drawn in every format of every member state,
    /// valid and not, and valid ones with a character changed (Tests/peers/vat_numbers.py).
    @Test func everyMemberStateAgreesWithPythonStdnum() async throws {
        let result = try await PeerProcess.run(
            try PythonPeers.interpreter, [Repository.path("Tests/peers/vat_numbers.py")])
        try #require(result.status == 0, "\(result.stderr)")
        var disagreements: [String] = []
        var counts: [String: (valid: Int, invalid: Int)] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            try #require(parts.count == 3, "\(line)")
            let (country, number, valid) = (parts[0], parts[1], parts[2] == "1")
            if (VATNumber.validated(number, country: country) != nil) != valid {
                disagreements.append("\(number): stdnum says \(valid ? "valid" : "invalid")")
            }
            counts[country, default: (0, 0)].valid += valid ? 1 : 0
            counts[country, default: (0, 0)].invalid += valid ? 0 : 1
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements: \(disagreements.prefix(20))")
        #expect(Set(counts.keys) == EUVATRates.memberStates.union(["GB", "CH", "NO"]))
        let thin = counts.filter { $0.value.valid < 20 || $0.value.invalid < 20 }
        #expect(thin.isEmpty, "too few numbers of a kind for \(thin.keys.sorted())")
    }

    @Test func separatorsAndCaseAreForgivenButThePrefixMustMatchTheCountry() {
        #expect(VATNumber.validated("de 136.695.976", country: "DE") == "DE136695976")
        #expect(VATNumber.validated("DE136695976", country: "FR") == nil)
        #expect(VATNumber.validated("136695976", country: "DE") == nil, "the prefix is part of the number")
        #expect(VATNumber.validated("EL094259216", country: "GR") == "EL094259216")
        #expect(VATNumber.validated("GR094259216", country: "GR") == nil, "Greece's numbers start with EL")
        #expect(VATNumber.validated("US123456789", country: "US") == nil)
        #expect(VATNumber.validated("DE１３６６９５９７６", country: "DE") == nil, "ASCII digits only")
    }
}

@Suite struct VATRateTests {
    @Test func aRateChangeAppliesFromItsDay() {
        #expect(EUVATRates.rate(country: "FI", on: Fixtures.utc(2024, 8, 31, 23)) == 2400)
        #expect(EUVATRates.rate(country: "FI", on: Fixtures.utc(2024, 9, 1)) == 2550)
        #expect(EUVATRates.rate(country: "DE", on: Fixtures.utc(2026, 6, 1)) == 1900)
        #expect(EUVATRates.rate(country: "US", on: Fixtures.utc(2026, 6, 1)) == nil)
        #expect(EUVATRates.memberStates.count == 27)
    }
}

@Suite struct TaxRuleTests {
    static func party(_ country: String, vat: String? = nil) -> InvoiceParty {
        InvoiceParty(legalName: "X", addressLines: ["1"], postalCode: "1", city: "C", country: country, vatNumber: vat)
    }

    @Test func theTreatmentFollowsWhoSellsToWhomAndWhen() throws {
        let seller = Self.party("FR", vat: "FR40303265045")
        let day = Fixtures.utc(2026, 5, 14)
        let decide = { (buyer: InvoiceParty?, threshold: Bool) in
            try TaxTreatment.decide(seller: seller, buyer: buyer, on: day, underOSSThreshold: threshold)
        }
        #expect(
            try decide(Self.party("DE"), false)
                == TaxTreatment(kind: .oneStopShop, country: "DE", rate: 1900, mention: nil))
        #expect(
            try decide(Self.party("DE"), true) == TaxTreatment(kind: .domestic, country: "FR", rate: 2000, mention: nil)
        )
        #expect(try decide(Self.party("DE", vat: "DE136695976"), false).kind == .reverseCharge)
        #expect(try decide(Self.party("FR", vat: "FR23334175221"), false).rate == 2000)
        #expect(try decide(Self.party("CH"), false).kind == .export)
        #expect(try decide(nil, false).kind == .domestic)
        #expect(try TaxTreatment.decide(seller: nil, buyer: Self.party("DE"), on: day).kind == .untaxed)
        #expect(throws: TaxTreatment.Problem.noRate(country: "US")) {
            try TaxTreatment.decide(seller: Self.party("US"), buyer: nil, on: day)
        }
    }

    /// Exclusive: VAT is the rate's share rounded half away from zero. Inclusive: net + VAT is
    /// always the price, and the VAT is that of the net within one minor unit.
    @Test func aLinesVATIsRoundedOnceAndAddsUp() async {
        #expect(InvoiceTax.split(999, rate: 1900, inclusive: false) == InvoiceTax.Split(net: 999, tax: 190))
        #expect(InvoiceTax.split(250, rate: 2000, inclusive: false).tax == 50)
        #expect(InvoiceTax.split(-125, rate: 2000, inclusive: false).tax == -25)
        #expect(InvoiceTax.split(-5, rate: 1000, inclusive: false).tax == -1, "half away from zero")
        #expect(InvoiceTax.split(1_200, rate: 2000, inclusive: true) == InvoiceTax.Split(net: 1_000, tax: 200))
        await propertyCheck(count: 500, input: Gen.int64(in: -10_000_000...10_000_000), Gen.int(in: 0...2700)) {
            amount, rate in
            let exclusive = InvoiceTax.split(amount, rate: rate, inclusive: false)
            let exact = Double(amount) * Double(rate) / 10_000
            #expect(exclusive.net == amount && abs(Double(exclusive.tax) - exact) <= 0.5)
            let inclusive = InvoiceTax.split(amount, rate: rate, inclusive: true)
            #expect(inclusive.net + inclusive.tax == amount)
            #expect(abs(InvoiceTax.split(inclusive.net, rate: rate, inclusive: false).tax - inclusive.tax) <= 1)
        }
    }

    @Test func documentNumbersFollowTheirPattern() throws {
        #expect(DocumentNumbering.invoices.format(sequence: 42, year: 2027) == "INV-2027-000042")
        let plain = try DocumentNumbering(pattern: "F{0001}", yearlyReset: false)
        #expect(plain.format(sequence: 12_345, year: 2027) == "F12345" && plain.counterPeriod(year: 2027) == 0)
        #expect(throws: DocumentNumbering.Invalid.self) { try DocumentNumbering(pattern: "INV-{YYYY}") }
        #expect(throws: DocumentNumbering.Invalid.self) { try DocumentNumbering(pattern: "INV-{0001}") }
    }

    @Test func theSettingsFileNamesEachProblem() throws {
        let settings = try InvoiceSettings.load(
            yaml: """
                seller:
                  legalName: Société Générale SA
                  addressLines: [29 boulevard Haussmann]
                  postalCode: "75009"
                  city: Paris
                  country: FR
                  vatNumber: FR 40 303 265 045
                invoices:
                  numbering: "F-{YYYY}-{00001}"
                  taxInclusiveCurrencies: [EUR]
                """)
        #expect(settings.seller?.party.vatNumber == "FR40303265045")
        #expect(settings.numbering.format(sequence: 7, year: 2027) == "F-2027-00007")
        #expect(settings.taxInclusiveCurrencies == [Currency("EUR")!])
        do {
            _ = try InvoiceSettings.load(
                yaml: "seller:\n  legalName: A\n  addressLines: [x]\n  city: B\n  country: US\n  vatNumber: X\n")
            Issue.record("a seller outside the EU was accepted")
        } catch {
            #expect(error.issues.map(\.path) == ["seller.country", "seller.vatNumber"])
        }
    }
}

@Suite struct CreditNotingTests {
    static let invoice = [
        InvoiceLine(
            kind: .oneOff, description: "A", quantity: 1, unitAmount: 999, amount: 999, taxRate: 1900, taxAmount: 190),
        InvoiceLine(
            kind: .proration, description: "Credit", quantity: 1, unitAmount: -250, amount: -250, taxRate: 1900,
            taxAmount: -48),
        InvoiceLine(
            kind: .oneOff, description: "B", quantity: 3, unitAmount: 333, amount: 999, taxRate: 5000, taxAmount: 500),
    ]

    /// However a line is split across credit notes, they credit exactly its net and its VAT.
    @Test func partsAddUpToTheLineExactly() async throws {
        await propertyCheck(count: 300, input: Gen.int64(in: 1...200).array(of: 1...12)) { cuts in
            var earlier: [CreditNoteLine] = []
            var left = Self.invoice[2].amount
            for cut in cuts where left > 0 {
                let amount = min(cut, left)
                guard let notes = try? CreditNoting.lines(of: Self.invoice, earlier: earlier, requested: [2: amount])
                else {
                    Issue.record("a credit within the line was refused")
                    return
                }
                earlier += notes
                left -= amount
            }
            if left > 0 {
                earlier += (try? CreditNoting.lines(of: Self.invoice, earlier: earlier, requested: nil)) ?? []
            }
            #expect(earlier.filter { $0.invoiceLine == 2 }.reduce(0) { $0 + $1.amount } == 999)
            #expect(earlier.filter { $0.invoiceLine == 2 }.reduce(0) { $0 + $1.taxAmount } == 500)
        }
    }

    @Test func aCreditNeverPassesWhatIsLeft() throws {
        let all = try CreditNoting.lines(of: Self.invoice, earlier: [], requested: nil)
        #expect(all.map(\.invoiceLine) == [0, 2], "a credit line is not credited again")
        #expect(all.reduce(0) { $0 + $1.taxAmount } == 690)
        #expect(throws: CreditNoting.Problem.exceedsLine(0, left: 999)) {
            try CreditNoting.lines(of: Self.invoice, earlier: [], requested: [0: 1_000])
        }
        #expect(throws: CreditNoting.Problem.noSuchLine(1)) {
            try CreditNoting.lines(of: Self.invoice, earlier: [], requested: [1: 10])
        }
        #expect(throws: CreditNoting.Problem.nothingLeft) {
            try CreditNoting.lines(of: Self.invoice, earlier: all, requested: nil)
        }
    }
}
