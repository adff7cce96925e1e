import Foundation
import Testing

@testable import TollgateCore

@Suite struct EmailAddressTests {
    @Test(arguments: [
        ("Ada@Example.com", "ada@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("élodie@exemple.fr", "élodie@exemple.fr"),
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),
    ])
    func acceptsAddressesMailCanCarry(input: String, normalized: String) throws {
        #expect(try EmailAddress.normalized(input) == normalized)
    }

    @Test(arguments: [
        "x\r\nBcc:evil1@example.com", "a\u{0}b@example.com", "a\tb@example.com", "a b@example.com", "<a@example.com>",
        "a,b@example.com", "a;b@example.com", "a@b@example.com", "@example.com", "a@", "a@localhost", "a@-example.com",
        "a@example-.com", "a@exa_mple.com", ".a@example.com", "a.@example.com", "a..b@example.com", "a@example..com",
        "\"quoted\"@example.com", String(repeating: "a", count: 65) + "@example.com",
        "a@" + String(repeating: "b", count: 64) + ".com",
        String(repeating: "a", count: 60) + "@" + String(repeating: "b.", count: 100) + "com",
    ])
    func refusesWhatCouldBreakAHeaderOrIsNotAnAddress(input: String) {
        #expect(throws: DomainError.self) { try EmailAddress.normalized(input, field: "email") }
        do {
            _ = try EmailAddress.normalized(input, field: "customer.email")
        } catch {
            #expect(error.field == "customer.email")
        }
    }
}

@Suite struct CSVWriterTests {
    @Test func quotesSeparatorsAndNeutralisesFormulasInTextOnly() {
        var csv = CSVWriter(header: ["a", "b", "c"])
        csv.append([.text("=HYPERLINK(\"http://evil\",\"x\")"), .number(-5), .text("plain")])
        csv.append([.text("+1"), .text("-2"), .text("@cmd")])
        csv.append([.text("\tTAB"), .text("\rCR"), .text("line\nbreak")])
        csv.append([.text("a,b"), .text("say \"hi\""), .text("")])
        let expected = [
            "a,b,c",
            #""'=HYPERLINK(""http://evil"",""x"")",-5,plain"#,
            "'+1,'-2,'@cmd",
            "'\tTAB,\"'\rCR\",\"line\nbreak\"",
            #""a,b","say ""hi""","#,
        ]
        #expect(csv.text == expected.map { $0 + "\r\n" }.joined())
    }
}
