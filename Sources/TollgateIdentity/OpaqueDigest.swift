import Crypto
import Foundation

/// SHA-256 hex of a high-entropy secret (refresh tokens, e-mail tokens, recovery codes). Those
/// secrets are random, so a fast hash is enough; passwords use bcrypt instead.
public enum OpaqueDigest {
    public static func hex(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
