import PropertyBased
import Testing
import TollgateCore

@Suite struct HexTests {
    @Test func bytesBecomeTwoLowerCaseDigitsEach() {
        #expect(Hex.encode([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
        #expect(Hex.encode([UInt8]()) == "")
    }

    @Test func agreesWithTheStandardLibrarysRadixFormatting() async {
        await propertyCheck(input: Gen.uint8().array(of: 0...64)) { bytes in
            let expected = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            #expect(Hex.encode(bytes) == expected)
        }
    }
}
