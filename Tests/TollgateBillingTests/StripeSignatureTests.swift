import Foundation
import TestSupport
import Testing

@testable import TollgateBilling

/// Signature cases built the way Stripe builds them: headers come from Stripe's Python library.
@Suite struct StripeSignatureTests {
    let payload = Data(
        #"{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":990}}}"#.utf8
    )
    let secret = "whsec_test_secret_1"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Runs the stripe library to sign `payload`.
    func stripeHeader(_ payload: Data, secret: String, timestamp: Int64) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID().uuidString).json")
        try payload.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let python = try PythonPeers.interpreter
        let result = try await PeerProcess.run(
            python, [Repository.path("Tests/peers/stripe_sign.py"), file.path, secret, String(timestamp)])
        #expect(result.status == 0)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func acceptsWhatStripeSignsAndSignsTheSame() async throws {
        let header = try await stripeHeader(payload, secret: secret, timestamp: 1_800_000_000)
        #expect(StripeSignatureVerifier.header(payload: payload, secret: secret, timestamp: 1_800_000_000) == header)
        let verifier = StripeSignatureVerifier(secrets: [secret])
        #expect(try verifier.verify(payload: payload, header: header, now: now) == now)
        #expect(try verifier.verify(payload: payload, header: header, now: now + 299) == now)
    }

    @Test func refusesTamperedStaleFutureUnsignedAndMalformed() async throws {
        let header = try await stripeHeader(payload, secret: secret, timestamp: 1_800_000_000)
        let verifier = StripeSignatureVerifier(secrets: [secret])
        var tampered = payload
        tampered[tampered.count - 3] = UInt8(ascii: "1")
        #expect(throws: StripeSignatureVerifier.Failure.noMatchingSignature) {
            try verifier.verify(payload: tampered, header: header, now: now)
        }
        #expect(throws: StripeSignatureVerifier.Failure.staleTimestamp) {
            try verifier.verify(payload: payload, header: header, now: now + 301)
        }
        #expect(throws: StripeSignatureVerifier.Failure.staleTimestamp) {
            try verifier.verify(payload: payload, header: header, now: now - 301)
        }
        #expect(throws: StripeSignatureVerifier.Failure.missingHeader) {
            try verifier.verify(payload: payload, header: nil, now: now)
        }
        #expect(throws: StripeSignatureVerifier.Failure.malformedHeader) {
            try verifier.verify(payload: payload, header: "t=abc,v1=00", now: now)
        }
        #expect(throws: StripeSignatureVerifier.Failure.malformedHeader) {
            try verifier.verify(payload: payload, header: "t=1800000000", now: now)
        }
        // A signature made with another secret, and a v0 (test-mode, unsupported) one, do not count.
        let other = try await stripeHeader(payload, secret: "whsec_someone_else", timestamp: 1_800_000_000)
        #expect(throws: StripeSignatureVerifier.Failure.noMatchingSignature) {
            try verifier.verify(payload: payload, header: other, now: now)
        }
        let v0 = header.replacingOccurrences(of: "v1=", with: "v0=")
        #expect(throws: StripeSignatureVerifier.Failure.malformedHeader) {
            try verifier.verify(payload: payload, header: v0, now: now)
        }
        #expect(throws: StripeSignatureVerifier.Failure.noSecretConfigured) {
            try StripeSignatureVerifier(secrets: []).verify(payload: payload, header: header, now: now)
        }
    }

    @Test func secretRotationAcceptsEitherSecretAndAnyOfSeveralSignatures() async throws {
        let oldHeader = try await stripeHeader(payload, secret: "whsec_old", timestamp: 1_800_000_000)
        let newHeader = try await stripeHeader(payload, secret: "whsec_new", timestamp: 1_800_000_000)
        let rotating = StripeSignatureVerifier(environmentValue: "whsec_new, whsec_old")
        #expect(throws: Never.self) { try rotating.verify(payload: payload, header: oldHeader, now: now) }
        #expect(throws: Never.self) { try rotating.verify(payload: payload, header: newHeader, now: now) }
        // During a roll, Stripe sends one v1 per active secret in the same header.
        let both =
            "t=1800000000,v1=\(newHeader.split(separator: "=").last!),v1=\(oldHeader.split(separator: "=").last!)"
        #expect(throws: Never.self) {
            try StripeSignatureVerifier(secrets: ["whsec_old"]).verify(payload: payload, header: both, now: now)
        }
        #expect(throws: StripeSignatureVerifier.Failure.noMatchingSignature) {
            try StripeSignatureVerifier(secrets: ["whsec_new"]).verify(payload: payload, header: oldHeader, now: now)
        }
    }
}
