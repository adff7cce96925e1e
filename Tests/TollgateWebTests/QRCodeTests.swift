import Foundation
import TestSupport
import Testing

@testable import TollgateWeb

/// The QR codes Tollgate draws, read back by a real decoder (zxing-cpp): every version from 1 to
/// 20, UTF-8 text, and an enrolment link.
@Suite struct QRCodeTests {
    static let payloads: [String] = {
        var texts = [
            "otpauth://totp/Tollgate%20console:owner%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Tollgate",
            "Łódź Müller — ünïcödé €, 日本語",
        ]
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.:/?=&%ABCXYZ")
        // Lengths that land on every version's capacity (level M, byte mode) and just past it.
        for length in [
            1, 14, 15, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666,
        ] {
            texts.append(String((0..<length).map { alphabet[($0 * 7 + length) % alphabet.count] }))
        }
        return texts
    }()

    @Test func aRealDecoderReadsEveryVersion() async throws {
        let codes = try Self.payloads.map { try QRCode($0) }
        #expect(Set(codes.map(\.version)).count >= 15, "versions: \(codes.map(\.version))")
        #expect(codes.map(\.version).max() == 20)
        let rows = codes.map { code in code.modules.map { row in String(row.map { $0 ? "1" : "0" }) } }
        let input = NSTemporaryDirectory() + "tollgate-qr-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: rows).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let run = try await PeerProcess.run(
            try PythonPeers.interpreter, [Repository.path("Tests/peers/qr_decode.py"), input])
        #expect(run.status == 0, "\(run.stderr)")
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [Any])
        #expect(decoded.count == Self.payloads.count)
        for (index, text) in Self.payloads.enumerated() {
            #expect(decoded[index] as? String == text, "version \(codes[index].version), \(text.utf8.count) bytes")
        }
    }

    @Test func theSmallestVersionThatHoldsTheTextAndNoMore() throws {
        // Level M byte-mode capacities (ISO/IEC 18004 table 7): version 1 holds 14 bytes, 9 holds
        // 180, 15 holds 412 and 20 holds 666.
        for (bytes, version) in [(14, 1), (15, 2), (180, 9), (181, 10), (412, 15), (666, 20)] {
            #expect(try QRCode(String(repeating: "a", count: bytes)).version == version, "\(bytes) bytes")
        }
        #expect(throws: QRCode.Failure.tooLong(bytes: 667)) { _ = try QRCode(String(repeating: "a", count: 667)) }
        let code = try QRCode("hello")
        #expect(code.size == 21 && code.modules.count == 21 && code.modules.allSatisfy { $0.count == 21 })
        // The three finder patterns' corners are dark, their separators light.
        #expect(code.modules[0][0] && code.modules[0][20] && code.modules[20][0] && !code.modules[7][7])
    }

    @Test func theImageIsSVGWithItsQuietZoneAndAnEscapedLabel() throws {
        let svg = try QRCode("hello").svg(label: "Scan <me>").rendered
        #expect(svg.hasPrefix("<svg class=\"qr\" viewBox=\"0 0 29 29\""))
        #expect(svg.contains("aria-label=\"Scan &lt;me&gt;\"") && svg.contains("M4 4h1v1h-1z"))
        #expect(!svg.contains("<script") && !svg.contains("style="))
    }
}
