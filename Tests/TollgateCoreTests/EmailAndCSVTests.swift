import Foundation
import PropertyBased
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

/// The document's `Email` pattern (`EmailAddress.pattern`) and `EmailAddress.normalized` accept
/// exactly the same strings: schemathesis holds the server to the pattern, this holds the pattern
/// to the server. Strings are built from pieces that sit on every rule's edge.
@Suite struct EmailPatternAgreementTests {
    static let pieces = [
        "a", "Z", "0", "-", ".", "@", "+", "'", "!", "_", "é", "ü", "€", "\u{301}", "\u{A0}", "\u{85}", "\u{2028}",
        "\u{3000}", " ", "\t", "\n", "\r", "<", ",", "\"", "example", "com", String(repeating: "b", count: 60),
        "bcd", ".co",
    ]

    @Test func thePatternAndTheRulesAgree() async throws {
        let regex = try NSRegularExpression(pattern: EmailAddress.pattern)
        let strings = Gen.int(in: 0...(Self.pieces.count - 1)).array(of: 0...12).map { indices in
            indices.map { Self.pieces[$0] }.joined()
        }
        // Mostly well-formed shapes (a local part, @, a domain), to reach the length limits.
        let part = Gen.int(in: 0...(Self.pieces.count - 1)).array(of: 0...6).map { indices in
            indices.map { Self.pieces[$0] }.joined()
        }
        let addresses = zip(part, part).map { local, domain in "\(local)@\(domain).com" }
        await propertyCheck(count: 3000, input: addresses) { text in
            let accepted = (try? EmailAddress.normalized(text)) != nil
            let range = NSRange(text.startIndex..., in: text)
            let matched = regex.firstMatch(in: text, options: [.anchored], range: range)?.range == range
            #expect(accepted == matched, "\(text.debugDescription): rules \(accepted), pattern \(matched)")
        }
        await propertyCheck(count: 3000, input: strings) { text in
            let accepted = (try? EmailAddress.normalized(text)) != nil
            let range = NSRange(text.startIndex..., in: text)
            let matched = regex.firstMatch(in: text, options: [.anchored], range: range)?.range == range
            #expect(accepted == matched, "\(text.debugDescription): rules \(accepted), pattern \(matched)")
        }
        // The shapes that must pass, checked against the pattern too.
        for valid in ["ada@example.com", "élodie@exemple.fr", "o'brien@example.ie", "a@xn--bcher-kva.example"] {
            let range = NSRange(valid.startIndex..., in: valid)
            #expect(regex.firstMatch(in: valid, options: [.anchored], range: range)?.range == range, "\(valid)")
        }
    }
}

@Suite struct CSVWriterTests {
    @Test func quotesSeparatorsAndNeutralisesFormulasInTextOnlyNotInNumbers() {
        var csv = CSVWriter(header: ["a", "b", "c"])
        csv.append([.text("=HYPERLINK(\"http://evil\",\"x\")"), .number(-5), .text("plain")])
        csv.append([.text("+1"), .text("-2"), .text("@cmd")])
        csv.append([.text("\tTAB"), .text("\rCR"), .text("line\nbreak")])
        csv.append([.text("a,b"), .text("say \"hi\""), .text("")])
        csv.append([.decimal(-0.25), .decimal(0.5), .empty])
        let expected = [
            "a,b,c",
            #""'=HYPERLINK(""http://evil"",""x"")",-5,plain"#,
            "'+1,'-2,'@cmd",
            "'\tTAB,\"'\rCR\",\"line\nbreak\"",
            #""a,b","say ""hi""","#,
            "-0.25,0.5,",
        ]
        #expect(csv.text == expected.map { $0 + "\r\n" }.joined())
    }
}

@Suite struct CSVReaderTests {
    @Test func readsQuotedFieldsLineBreaksAndBothLineEndsWithTheLineEachRecordStartsOn() {
        let text = "id,name\r\nu1,\"Ada, Countess\"\nu2,\"say \"\"hi\"\"\"\n\nu3,\"two\nlines\"\nu4,\n"
        let records = CSVReader.records(text)
        #expect(records.map(\.line) == [1, 2, 3, 5, 7])
        #expect(
            records.map(\.fields) == [
                ["id", "name"], ["u1", "Ada, Countess"], ["u2", "say \"hi\""], ["u3", "two\nlines"], ["u4", ""],
            ])
    }

    @Test func whatTheWriterWritesTheReaderReadsBack() {
        var csv = CSVWriter(header: ["a", "b"])
        csv.append([.text("x,y"), .text("line\nbreak")])
        csv.append([.text("say \"hi\""), .text("")])
        #expect(
            CSVReader.records(csv.text).map(\.fields) == [["a", "b"], ["x,y", "line\nbreak"], ["say \"hi\"", ""]])
    }
}
