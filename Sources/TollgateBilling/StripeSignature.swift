import Crypto
import Foundation
import TollgateCore

/// Verifies `Stripe-Signature` headers exactly as Stripe specifies: HMAC-SHA256 of
/// `"<t>.<payload>"` with the endpoint's secret, any of several `v1` values may match, the
/// timestamp within a tolerance (5 minutes by default). Several secrets are tried, so a secret
/// can be rotated while Stripe still signs with the old one.
public struct StripeSignatureVerifier: Sendable {
    public let secrets: [String]
    public let tolerance: TimeInterval

    public init(secrets: [String], tolerance: TimeInterval = 300) {
        self.secrets = secrets.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.tolerance = tolerance
    }

    /// `STRIPE_WEBHOOK_SECRET`, comma-separated for rotation.
    public init(environmentValue: String, tolerance: TimeInterval = 300) {
        self.init(secrets: environmentValue.split(separator: ",").map(String.init), tolerance: tolerance)
    }

    public enum Failure: Error, Sendable, Equatable {
        case missingHeader
        case malformedHeader
        case noSecretConfigured
        case staleTimestamp
        case noMatchingSignature
    }

    /// Returns the signed timestamp when the payload is authentic and recent.
    @discardableResult
    public func verify(payload: Data, header: String?, now: Date) throws(Failure) -> Date {
        guard let header, !header.isEmpty else { throw .missingHeader }
        guard !secrets.isEmpty else { throw .noSecretConfigured }
        var timestamp: Int64?
        var signatures: [String] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": signatures.append(pair[1].lowercased())
            default: break // v0 and future schemes are ignored, as Stripe's libraries do.
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader }
        let signedAt = Date(timeIntervalSince1970: TimeInterval(timestamp))
        guard abs(now.timeIntervalSince(signedAt)) <= tolerance else { throw .staleTimestamp }
        let signedPayload = Data("\(timestamp).".utf8) + payload
        for secret in secrets {
            let expected = Self.hex(signedPayload, secret: secret)
            if signatures.contains(where: { constantTimeEquals($0, expected) }) { return signedAt }
        }
        throw .noMatchingSignature
    }

    /// A header as Stripe would send it, for tools and tests.
    public static func header(payload: Data, secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(hex(Data("\(timestamp).".utf8) + payload, secret: secret))"
    }

    static func hex(_ data: Data, secret: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Data(secret.utf8))))
    }
}
