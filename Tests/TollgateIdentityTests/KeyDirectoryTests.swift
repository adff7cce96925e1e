import Foundation
import Testing
import TollgateCore

@testable import TollgateIdentity

@Suite struct KeyDirectoryTests {
    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-keys-\(UUID().uuidString)").path
    }

    @Test func keysAreMadeOnFirstUseKeptPrivateAndStable() throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let directory = KeyDirectory(dataDirectory: data)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try directory.signingKeys(now: now)
        #expect(first.count == 1)
        #expect(try directory.signingKeys(now: now + 10).map(\.kid) == first.map(\.kid))
        let box = try directory.secretBox(environment: [:])
        let sealed = try box.seal([1, 2, 3])
        #expect(try directory.secretBox(environment: [:]).open(sealed) == [1, 2, 3])
        let keyFile = (directory.path as NSString).appendingPathComponent("master.key")
        let permissions = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        // The environment wins over the file, and a malformed one is refused.
        let fromEnvironment = SecretBox.generateKey().base64EncodedString()
        #expect(throws: (any Error).self) {
            try directory.secretBox(environment: ["TOLLGATE_MASTER_KEY": fromEnvironment]).open(sealed)
        }
        #expect(throws: KeyDirectoryError.self) {
            try directory.secretBox(environment: ["TOLLGATE_MASTER_KEY": "short"])
        }
    }

    @Test func rotationSignsWithTheNewKeyAndKeepsTheOldOnePublished() throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let directory = KeyDirectory(dataDirectory: data)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let ring = try SigningKeyRing(directory: directory, now: now)
        let claims = AccessClaims(
            sub: "usr_1", iss: "tollgate", aud: "memento", iat: 1_800_000_000, exp: 1_800_000_900, sid: "s",
            plan: "basic")
        let before = try ring.signer(now: now).sign(claims)
        let newKey = try directory.rotateSigningKey(now: now + 1)
        // A running server notices within a few seconds.
        #expect(ring.signer(now: now + 2).current.kid != newKey.kid)
        let after = ring.signer(now: now + 6)
        #expect(after.current.kid == newKey.kid && after.jwks["keys"]?.count == 2)
        #expect(try after.verify(before, issuer: "tollgate", audience: "memento", now: now + 6) == claims)
        // A key goes once it has been replaced for longer than the retention; the key that was
        // signing until a moment ago stays, however old it is.
        let third = try directory.rotateSigningKey(now: now + 90_000)
        try directory.pruneSigningKeys(retention: 86_400, now: now + 90_000)
        #expect(try directory.readSigningKeys().map(\.kid) == [newKey.kid, third.kid])
        try directory.pruneSigningKeys(retention: 86_400, now: now + 90_000 + 86_401)
        #expect(try directory.readSigningKeys().map(\.kid) == [third.kid])
    }
}
