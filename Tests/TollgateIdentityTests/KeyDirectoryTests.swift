import Foundation
import Testing
import TollgateCore

@testable import TollgateIdentity

@Suite struct KeyDirectoryTests {
    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-keys-\(UUID().uuidString)").path
    }

    @Test func theMasterKeyIsMadeOnFirstUseKeptPrivateAndStable() throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let directory = KeyDirectory(dataDirectory: data)
        let box = try directory.secretBox(environment: [:])
        let sealed = try box.seal([1, 2, 3])
        #expect(try directory.secretBox(environment: [:]).open(sealed) == [1, 2, 3])
        let permissions = try FileManager.default.attributesOfItem(atPath: directory.masterPath)[.posixPermissions]
        #expect(permissions as? Int == 0o600)
        // The environment wins over the file, and a malformed one is refused.
        let fromEnvironment = SecretBox.generateKey().base64EncodedString()
        #expect(throws: (any Error).self) {
            try directory.secretBox(environment: ["TOLLGATE_MASTER_KEY": fromEnvironment]).open(sealed)
        }
        #expect(throws: KeyDirectoryError.self) {
            try directory.secretBox(environment: ["TOLLGATE_MASTER_KEY": "short"])
        }
    }

    @Test func aRingSignsWithItsNewestKeyAndVerifiesWithAll() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let old = SigningKey.generate(at: now)
        let ring = SigningKeyRing(keys: [old])
        let claims = AccessClaims(
            sub: "usr_1", iss: "tollgate", aud: "memento", iat: 1_800_000_000, exp: 1_800_000_900, sid: "s",
            plan: "basic")
        let before = try ring.signer(now: now).sign(claims)
        let new = SigningKey.generate(at: now + 1)
        ring.replace([new, old])
        #expect(ring.signer(now: now).current.kid == new.kid && ring.signer(now: now).jwks["keys"]?.count == 2)
        #expect(try ring.signer(now: now).verify(before, issuer: "tollgate", audience: "memento", now: now) == claims)
        ring.replace([])
        #expect(ring.signer(now: now).current.kid == new.kid, "an empty reload keeps the keys")
    }
}
