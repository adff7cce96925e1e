import Crypto
import Foundation
import TollgateCore

/// Time-based one-time passwords (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits.
public struct TOTP: Sendable {
    public let secret: [UInt8]
    public let digits: Int
    public let stepSeconds: Int

    public init(secret: [UInt8], digits: Int = 6, stepSeconds: Int = 30) {
        self.secret = secret
        self.digits = digits
        self.stepSeconds = stepSeconds
    }

    /// A new random 160-bit secret, the size RFC 4226 recommends.
    public static func generateSecret() -> [UInt8] { Secrets.randomBytes(20) }

    public func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(stepSeconds)).rounded(.down))
    }

    public func code(forStep step: Int64) -> String {
        var counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: &counter) { Data($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The step that `code` matches, within ±`window` steps of `date`, and later than
    /// `afterStep` (so a code, once used, cannot be replayed in its window). Nil when none does.
    public func matchingStep(_ code: String, at date: Date, window: Int64 = 1, afterStep: Int64? = nil) -> Int64? {
        guard code.count == digits, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else { return nil }
        let now = step(at: date)
        for candidate in (now - window)...(now + window) {
            if let afterStep, candidate <= afterStep { continue }
            if constantTimeEquals(self.code(forStep: candidate), code) { return candidate }
        }
        return nil
    }

    /// The URI authenticator apps scan (Google's Key Uri Format).
    public func provisioningURI(account: String, issuer: String) -> String {
        func escape(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~@")))
                ?? text
        }
        return
            "otpauth://totp/\(escape(issuer)):\(escape(account))?secret=\(Base32.encode(secret))"
            + "&issuer=\(escape(issuer))&algorithm=SHA1&digits=\(digits)&period=\(stepSeconds)"
    }
}
