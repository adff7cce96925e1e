import Foundation
import TestSupport
import Testing
import TollgateCore

@Suite struct VATNumberTests {
    /// python-stdnum is the reference: numbers drawn in every format of every member state,
    /// valid and not, and valid ones with a character changed (Tests/peers/vat_numbers.py).
    @Test func everyMemberStateAgreesWithPythonStdnum() throws {
        let result = try PeerProcess.run(try PythonPeers.interpreter, [Repository.path("Tests/peers/vat_numbers.py")])
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
        #expect(Set(counts.keys) == EUVATRates.memberStates)
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
