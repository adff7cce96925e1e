import Crypto
import Foundation
import TollgateCore

/// SHA-256 hex of a high-entropy secret (refresh tokens, e-mail tokens, recovery codes). Those
/// secrets are random, so a fast hash is enough; passwords use bcrypt instead.
public enum OpaqueDigest {
    public static func hex(_ secret: String) -> String {
        Hex.encode(SHA256.hash(data: Data(secret.utf8)))
    }
}
