import Crypto
import Foundation
import Testing
import TollgateCore

@testable import TollgateIdentity

@Suite struct IdentityPrimitiveTests {
    /// RFC 6238 appendix B, SHA-1 column (8 digits), secret "12345678901234567890".
    @Test(arguments: [
        (59.0, "94287082"), (1_111_111_109.0, "07081804"), (1_111_111_111.0, "14050471"),
        (1_234_567_890.0, "89005924"), (2_000_000_000.0, "69279037"), (20_000_000_000.0, "65353130"),
    ])
    func totpMatchesTheRFCVectors(time: Double, expected: String) {
        let totp = TOTP(secret: Array("12345678901234567890".utf8), digits: 8)
        #expect(totp.code(forStep: totp.step(at: Date(timeIntervalSince1970: time))) == expected)
    }

    @Test func totpAcceptsOneStepEitherSideAndNeverTheSameStepTwice() {
        let totp = TOTP(secret: TOTP.generateSecret())
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let step = totp.step(at: now)
        #expect(totp.matchingStep(totp.code(forStep: step - 1), at: now) == step - 1)
        #expect(totp.matchingStep(totp.code(forStep: step + 1), at: now) == step + 1)
        #expect(totp.matchingStep(totp.code(forStep: step - 2), at: now) == nil)
        #expect(totp.matchingStep(totp.code(forStep: step), at: now, afterStep: step) == nil)
        #expect(totp.matchingStep("12a456", at: now) == nil && totp.matchingStep("1234567", at: now) == nil)
        let uri = totp.provisioningURI(account: "ada@example.com", issuer: "Memento Note")
        #expect(uri.hasPrefix("otpauth://totp/Memento%20Note:ada@example.com?secret=\(Base32.encode(totp.secret))"))
    }

    @Test func base32RoundTripsAndMatchesRFC4648() {
        #expect(Base32.encode(Array("foobar".utf8)) == "MZXW6YTBOI")
        #expect(Base32.decode("MZXW6YTBOI").map { String(decoding: $0, as: UTF8.self) } == "foobar")
        #expect(Base32.decode("not base32!") == nil)
        let bytes = Secrets.randomBytes(37)
        #expect(Base32.decode(Base32.encode(bytes)) == bytes)
    }

    @Test func tokensVerifyAcrossRotationAndRefuseTampering() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let old = SigningKey.generate(at: now)
        let claims = AccessClaims(
            sub: "usr_1", iss: "tollgate", aud: "memento", iat: 1_800_000_000, exp: 1_800_000_900, sid: "ses_1",
            plan: "pro")
        let token = try TokenSigner(keys: [old]).sign(claims)
        let rotated = TokenSigner(keys: [old, SigningKey.generate(at: now + 60)])
        #expect(try rotated.verify(token, issuer: "tollgate", audience: "memento", now: now) == claims)
        #expect(rotated.current.kid != old.kid && rotated.jwks["keys"]?.count == 2)
        #expect(throws: TokenError.expired) {
            try rotated.verify(token, issuer: "tollgate", audience: "memento", now: now + 901)
        }
        #expect(throws: TokenError.wrongAudience) {
            try rotated.verify(token, issuer: "tollgate", audience: "other", now: now)
        }
        // Signed by a key of the ring, but for another issuer: refused like a product would.
        let foreign = try rotated.sign(
            AccessClaims(
                sub: "usr_1", iss: "elsewhere", aud: "memento", iat: 1_800_000_000, exp: 1_800_000_900, sid: "ses_1",
                plan: "pro"))
        #expect(throws: TokenError.wrongIssuer) {
            try rotated.verify(foreign, issuer: "tollgate", audience: "memento", now: now)
        }
        let parts = token.split(separator: ".").map(String.init)
        let forged = try JSONEncoder().encode(
            AccessClaims(
                sub: "usr_1", iss: "tollgate", aud: "memento", iat: 0, exp: 1_900_000_000, sid: "ses_1",
                plan: "enterprise"))
        #expect(throws: TokenError.badSignature) {
            try rotated.verify(
                "\(parts[0]).\(Base64URL.encode(forged)).\(parts[2])", issuer: "tollgate", audience: "memento", now: now
            )
        }
        #expect(throws: TokenError.unknownKey) {
            try TokenSigner(keys: [SigningKey.generate(at: now)]).verify(
                token, issuer: "tollgate", audience: "memento", now: now)
        }
        #expect(throws: TokenError.malformed) {
            try rotated.verify("a.b", issuer: "tollgate", audience: "memento", now: now)
        }
    }

    /// RFC 9864's fully specified `Ed25519` is accepted beside `EdDSA`; an algorithm that is not
    /// Ed25519 (`none`, HMAC under the public key) never is.
    @Test func tokensNamingEitherEd25519AlgorithmVerifyAndNoOtherDoes() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let key = SigningKey.generate(at: now)
        let claims = AccessClaims(
            sub: "usr_1", iss: "tollgate", aud: "memento", iat: 1_800_000_000, exp: 1_800_000_900, sid: "ses_1",
            plan: "pro")
        let signer = TokenSigner(keys: [key])
        #expect(
            String(decoding: Base64URL.decode(String(try signer.sign(claims).split(separator: ".")[0]))!, as: UTF8.self)
                .contains(#""alg":"EdDSA""#))
        func token(alg: String) throws -> String {
            let header = Base64URL.encode(Data(#"{"alg":"\#(alg)","kid":"\#(key.kid)","typ":"JWT"}"#.utf8))
            let input = header + "." + Base64URL.encode(try JSONEncoder().encode(claims))
            return input + "." + Base64URL.encode(try key.privateKey.signature(for: Data(input.utf8)))
        }
        #expect(try signer.verify(token(alg: "Ed25519"), issuer: "tollgate", audience: "memento", now: now) == claims)
        for alg in ["none", "HS256", "ES256"] {
            #expect(throws: TokenError.unknownKey) {
                try signer.verify(token(alg: alg), issuer: "tollgate", audience: "memento", now: now)
            }
        }
    }

    @Test func secretBoxRoundTripsAndDetectsTampering() throws {
        let box = SecretBox(keyData: SecretBox.generateKey())!
        let sealed = try box.seal(Array("totp seed".utf8))
        #expect(try box.open(sealed) == Array("totp seed".utf8))
        var bytes = Array(Data(base64Encoded: sealed)!)
        bytes[bytes.count - 1] ^= 1
        #expect(throws: (any Error).self) { try box.open(Data(bytes).base64EncodedString()) }
        #expect(throws: (any Error).self) { try SecretBox(keyData: SecretBox.generateKey())!.open(sealed) }
    }

    @Test func passwordPolicyRefusesShortCommonAndPersonalPasswords() throws {
        let policy = PasswordPolicy(bcryptCost: 4)
        for weak in ["short", "password123", "Password123", "aaaaaaaaaaaa", "adalovelace99"] {
            #expect(throws: DomainError.self, "\(weak)") { try policy.validate(weak, email: "adalovelace@example.com") }
        }
        try policy.validate("correct horse battery staple", email: "ada@example.com")
        let hash = policy.hash("correct horse battery staple")
        #expect(policy.verify("correct horse battery staple", hash: hash))
        #expect(!policy.verify("correct horse battery stapler", hash: hash))
    }

    /// A hash stored before NULs were refused is the hash of the prefix before the NUL; no
    /// password the policy refuses may match anything.
    @Test func verifyRefusesWhatThePolicyRefusesEvenAgainstAMatchingHash() throws {
        let policy = PasswordPolicy(bcryptCost: 4)
        #expect(throws: DomainError.self) { try policy.validate("abc\u{0}defghijkl") }
        #expect(throws: DomainError.self) { try policy.validate("line\nbreak is long enough") }
        #expect(!policy.verify("", hash: policy.hash("")))
        #expect(!policy.verify("abc", hash: policy.hash("abc")))
        let seventyTwo = String(repeating: "Zq8#", count: 18)
        #expect(policy.verify(seventyTwo, hash: policy.hash(seventyTwo)))
        #expect(!policy.verify(seventyTwo + "EXTRA", hash: policy.hash(seventyTwo)))
        #expect(!policy.verify("nul inside\u{0}the password", hash: policy.hash("nul inside")))
    }
}
