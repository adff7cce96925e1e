import Crypto
import Foundation
import TollgateCore

/// Encrypts small secrets at rest (TOTP seeds) with AES-256-GCM under a master key kept outside
/// the database: in the data directory, or in `TOLLGATE_MASTER_KEY`.
public struct SecretBox: Sendable {
    /// 32 bytes (swift-crypto's SymmetricKey is not Sendable; it is rebuilt on use).
    private let keyData: Data

    private var key: SymmetricKey { SymmetricKey(data: keyData) }

    public init?(keyData: Data) {
        guard keyData.count == 32 else { return nil }
        self.keyData = keyData
    }

    public init?(base64 text: String) {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        self.init(keyData: data)
    }

    public static func generateKey() -> Data { Data(Secrets.randomBytes(32)) }

    /// Nonce, ciphertext and tag, base64.
    public func seal(_ plaintext: [UInt8]) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: key)
        guard let combined = box.combined else { throw SecretBoxError.cannotSeal }
        return combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed) else { throw SecretBoxError.corrupt }
        return Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key))
    }
}

extension SecretBox {
    /// A single-use link's token as an outbox message carries it: sealed, so that whoever reads
    /// the database (or a backup of it) cannot take over the account the link is for. The sender
    /// opens it when it renders the message.
    public func sealToken(_ token: String) throws -> String { try seal(Array(token.utf8)) }

    public func openToken(_ sealed: String) throws -> String { String(decoding: try open(sealed), as: UTF8.self) }

    /// An HMAC-SHA256 of `message` (hex) under a key derived from the master key for `purpose`:
    /// for values the server hands out and must recognise without storing them (a portal cookie,
    /// its forms' CSRF token). Another purpose gives an unrelated code.
    public func authenticationCode(_ message: String, purpose: String) -> String {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(purpose.utf8), outputByteCount: 32)
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: derived))
    }
}

public enum SecretBoxError: Error, Sendable {
    case cannotSeal
    case corrupt
}
