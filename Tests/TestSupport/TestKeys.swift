import Foundation
import TollgateIdentity

/// Key material for tests: generated per run, never from disk; bcrypt at its cheapest cost.
public enum TestKeys {
    public static let ring = SigningKeyRing(keys: [SigningKey.generate(at: Date(timeIntervalSince1970: 1_700_000_000))])
    public static let box = SecretBox(keyData: SecretBox.generateKey())!
    public static let policy = PasswordPolicy(bcryptCost: 4)
}
