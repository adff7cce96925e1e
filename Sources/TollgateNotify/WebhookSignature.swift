import Crypto
import Foundation
import TollgateIdentity

/// Standard Webhooks signing: secrets are `whsec_` + base64 of 24 random bytes; a message is
/// signed as `v1,` + base64(HMAC-SHA256(secret bytes, "<webhook-id>.<webhook-timestamp>.<body>")),
/// one signature per live secret, separated by spaces (a receiver accepts any that verifies).
public enum WebhookSignature {
    public static let secretPrefix = "whsec_"

    public static func newSecret() -> String {
        secretPrefix + Data(Secrets.randomBytes(24)).base64EncodedString()
    }

    /// The `webhook-signature` header for `body` sent as message `id` at `timestamp` (Unix seconds).
    public static func header(id: String, timestamp: Int64, body: Data, secrets: [String]) throws -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        return try secrets.map { secret in
            guard secret.hasPrefix(secretPrefix), let key = Data(base64Encoded: String(secret.dropFirst(6))) else {
                throw Failure.unreadableSecret
            }
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }

    public enum Failure: Error { case unreadableSecret }
}
