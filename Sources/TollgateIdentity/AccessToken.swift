import Crypto
import Foundation

/// The claims of an access token. Products verify these offline against the JWKS.
public struct AccessClaims: Codable, Sendable, Equatable {
    /// The user id, which is also their customer id.
    public var sub: String
    public var iss: String
    public var aud: String
    public var iat: Int64
    public var exp: Int64
    /// The session the token belongs to, so a revoked session stops being honoured by Tollgate.
    public var sid: String
    public var plan: String
    public var workspace: String?
    public var role: String?
    /// OpenID Connect's `email_verified`: until the account's address is verified, Tollgate
    /// answers such a token only for reading the account, signing out and the privacy rights.
    public var emailVerified: Bool?

    enum CodingKeys: String, CodingKey {
        case sub, iss, aud, iat, exp, sid, plan, workspace, role
        case emailVerified = "email_verified"
    }

    public init(
        sub: String, iss: String, aud: String, iat: Int64, exp: Int64, sid: String, plan: String,
        workspace: String? = nil, role: String? = nil, emailVerified: Bool? = nil
    ) {
        self.sub = sub
        self.iss = iss
        self.aud = aud
        self.iat = iat
        self.exp = exp
        self.sid = sid
        self.plan = plan
        self.workspace = workspace
        self.role = role
        self.emailVerified = emailVerified
    }
}

/// One Ed25519 signing key with its key id.
public struct SigningKey: Sendable {
    public let kid: String
    /// The 32-byte Ed25519 seed (swift-crypto's key type is not Sendable; it is rebuilt on use).
    public let rawPrivateKey: Data
    public let createdAt: Date

    public init(kid: String, rawPrivateKey: Data, createdAt: Date) throws {
        _ = try Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey)
        self.kid = kid
        self.rawPrivateKey = rawPrivateKey
        self.createdAt = createdAt
    }

    public static func generate(at date: Date) -> SigningKey {
        // A fresh key's raw form is always valid.
        try! SigningKey(
            kid: Secrets.randomId(prefix: "k_", bytes: 8),
            rawPrivateKey: Curve25519.Signing.PrivateKey().rawRepresentation, createdAt: date)
    }

    var privateKey: Curve25519.Signing.PrivateKey {
        // Validated in init.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey)
    }

    /// The public half as a JWK (RFC 8037).
    public var publicJWK: [String: String] {
        [
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": Base64URL.encode(privateKey.publicKey.rawRepresentation),
        ]
    }
}

/// JWTs signed with Ed25519. The newest key signs; every key in the ring verifies and is
/// published, so tokens signed before a rotation stay valid until they expire.
///
/// The `alg` written is `EdDSA`, though RFC 9864 deprecates it for the fully specified `Ed25519`:
/// PyJWT (2.10 to 2.15, the newest) knows Ed25519 signatures only as `EdDSA` and refuses
/// `Ed25519`, while joserfc knows both; the JWK's `crv: Ed25519` already pins the curve, so
/// nothing is ambiguous. Tokens carrying either name are accepted, so moving to `Ed25519` once
/// the libraries products use know it is a one-line change that breaks no token in flight.
public struct TokenSigner: Sendable {
    /// Newest last.
    public let keys: [SigningKey]

    public init(keys: [SigningKey]) {
        precondition(!keys.isEmpty, "a token signer needs a key")
        self.keys = keys.sorted { $0.createdAt < $1.createdAt }
    }

    public var current: SigningKey { keys[keys.count - 1] }

    /// The Ed25519 names a token's header may carry (RFC 8037's and RFC 9864's).
    static let acceptedAlgorithms: Set<String> = ["EdDSA", "Ed25519"]

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    public func sign(_ claims: AccessClaims) throws -> String {
        let header = ["alg": "EdDSA", "typ": "JWT", "kid": current.kid]
        let signingInput =
            Base64URL.encode(try Self.encoder.encode(header)) + "." + Base64URL.encode(try Self.encoder.encode(claims))
        let signature = try current.privateKey.signature(for: Data(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// The claims of a token signed by a key of this ring, issued by `issuer` for `audience`, not
    /// expired at `now`.
    public func verify(_ token: String, issuer: String, audience: String, now: Date) throws(TokenError) -> AccessClaims
    {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = try? JSONDecoder().decode([String: String].self, from: headerData)
        else { throw .malformed }
        guard let alg = header["alg"], Self.acceptedAlgorithms.contains(alg), let kid = header["kid"],
            let key = keys.first(where: { $0.kid == kid })
        else {
            throw .unknownKey
        }
        guard key.privateKey.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)) else {
            throw .badSignature
        }
        guard let claims = try? JSONDecoder().decode(AccessClaims.self, from: payload) else { throw .malformed }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud == audience else { throw .wrongAudience }
        guard Double(claims.exp) > now.timeIntervalSince1970 else { throw .expired }
        return claims
    }

    /// `GET /.well-known/jwks.json`.
    public var jwks: [String: [[String: String]]] { ["keys": keys.reversed().map(\.publicJWK)] }
}

public enum TokenError: Error, Sendable, Equatable {
    case malformed
    case unknownKey
    case badSignature
    case wrongIssuer
    case wrongAudience
    case expired
}
