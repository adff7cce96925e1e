import Foundation
import SQLKit
import TestSupport
import Testing
import TollgateCore
import TollgateSQL
import TollgateStorage

@testable import TollgateIdentity

/// On both databases: signing keys live in the database sealed under the master
/// key (imported once from a data directory's files), and a master-key rotation seals every
/// sealed secret again — or, interrupted, is finished or undone by whichever key opens the canary.
@Suite struct SealedKeyContractTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "tollgate-keys-\(UUID().uuidString)"
    }

    @Test(arguments: TestDatabase.all)
    func signingKeysAreSharedRotatedAndPruned(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let vault = SigningKeyVault(store: store, box: TestKeys.box)
            // Two nodes starting at once agree on one first key.
            async let one = vault.keysMakingFirst(now: Self.now, importing: nil)
            async let two = vault.keysMakingFirst(now: Self.now, importing: nil)
            let (first, second) = try await (one, two)
            #expect(first.map(\.kid) == second.map(\.kid) && first.count == 1)
            // Nothing secret is stored in clear.
            let stored = try await store.sealedKeys(prefix: "signing/")
            #expect(stored.allSatisfy { !$0.sealed.contains(Base64URL.encode(first[0].rawPrivateKey)) })
            #expect(throws: (any Error).self) {
                try SecretBox(keyData: SecretBox.generateKey())!.open(stored[0].sealed)
            }
            let rotated = try await vault.rotate(now: Self.now + 60)
            #expect(try await vault.keys().map(\.kid) == [first[0].kid, rotated.kid])
            let third = try await vault.rotate(now: Self.now + 90_000)
            try await vault.prune(retention: 86_400, now: Self.now + 90_000)
            #expect(try await vault.keys().map(\.kid) == [rotated.kid, third.kid], "the first key is past retention")
            try await vault.prune(retention: 86_400, now: Self.now + 90_000 + 86_401)
            #expect(try await vault.keys().map(\.kid) == [third.kid], "the signing key always stays")
        }
    }

    @Test func aDataDirectorysKeysAreImportedOnce() async throws {
        try await TestDatabase.sqlite.withStore { store, _ in
            let data = Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let legacy = SigningKey.generate(at: Self.now)
            let folder = data + "/keys/signing"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let json =
                #"{"kid":"\#(legacy.kid)","createdAt":\#(Int64(Self.now.timeIntervalSince1970 * 1000)),"#
                + #""privateKey":"\#(Base64URL.encode(legacy.rawPrivateKey))"}"#
            try json.write(toFile: folder + "/\(legacy.kid).json", atomically: true, encoding: .utf8)
            let vault = SigningKeyVault(store: store, box: TestKeys.box)
            let keys = try await vault.keysMakingFirst(
                now: Self.now + 5, importing: KeyDirectory(dataDirectory: data))
            #expect(keys.map(\.kid) == [legacy.kid] && keys[0].rawPrivateKey == legacy.rawPrivateKey)
        }
    }

    static func sealSomething(_ store: SQLStore, box: SecretBox) async throws {
        try await store.provider.transaction { db in
            try await db.raw(
                """
                INSERT INTO webhook_endpoints (id, url, event_types, sealed_secret, created_at_ms, updated_at_ms)
                VALUES ('we_1', 'https://example.com/hook', '', \(bind: try box.sealToken("whsec_secret")), 0, 0)
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO outbox (id, kind, recipient, payload, created_at_ms)
                VALUES ('ob_1', 'email.verify', 'ada@example.com',
                    \(bind: #"{"sealedToken":"\#(try box.sealToken("tg_token"))","userId":"usr_1"}"#), 0)
                """
            ).run()
        }
        _ = try await SigningKeyVault(store: store, box: box).keysMakingFirst(now: now, importing: nil)
    }

    static func readBack(_ store: SQLStore, box: SecretBox) async throws -> (webhook: String, token: String, keys: Int)
    {
        let (sealedSecret, payload) = try await store.provider.read { db in
            let secret = try await db.raw("SELECT sealed_secret FROM webhook_endpoints WHERE id = 'we_1'").first()!
                .decode(column: "sealed_secret", as: String.self)
            let payload = try await db.raw("SELECT payload FROM outbox WHERE id = 'ob_1'").first()!
                .decode(column: "payload", as: String.self)
            return (secret, payload)
        }
        let object = try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
        let keys = try await SigningKeyVault(store: store, box: box).keys()
        return (
            try box.openToken(sealedSecret), try box.openToken(object?["sealedToken"] as? String ?? ""), keys.count
        )
    }

    @Test(arguments: TestDatabase.all)
    func rotatingTheMasterKeySealsEverySecretAgain(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let data = Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let directory = KeyDirectory(dataDirectory: data)
            let old = try directory.secretBox(environment: [:])
            try await Self.sealSomething(store, box: old)
            let resealed = try await MasterKeyRotation.rotate(directory: directory, store: store, environment: [:])
            #expect(resealed == 4, "the webhook secret, the mail's token, the signing key, the canary")
            let new = try directory.secretBox(environment: [:])
            let back = try await Self.readBack(store, box: new)
            #expect(back.webhook == "whsec_secret" && back.token == "tg_token" && back.keys == 1)
            await #expect(throws: (any Error).self) { try await Self.readBack(store, box: old) }
            #expect(!FileManager.default.fileExists(atPath: directory.pendingPath))
        }
    }

    @Test func anInterruptedRotationIsFinishedOrUndoneByTheCanary() async throws {
        try await TestDatabase.sqlite.withStore { store, _ in
            let data = Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let directory = KeyDirectory(dataDirectory: data)
            let old = try directory.secretBox(environment: [:])
            try await Self.sealSomething(store, box: old)
            _ = try await MasterKeyRotation.rotate(directory: directory, store: store, environment: [:])
            let current = try directory.secretBox(environment: [:])
            // A crash after the new key was written but before the database changed: undone.
            let stray = SecretBox.generateKey()
            try directory.writePendingMasterKey(stray)
            try await MasterKeyRotation.settle(directory: directory, store: store, environment: [:])
            #expect(
                try await Self.readBack(store, box: try directory.secretBox(environment: [:])).webhook == "whsec_secret"
            )
            // A crash after the database changed but before the file was renamed: finished.
            let next = SecretBox.generateKey()
            try directory.writePendingMasterKey(next)
            _ = try await store.resealSecrets { try SecretBox(keyData: next)!.seal(try current.open($0)) }
            try await MasterKeyRotation.settle(directory: directory, store: store, environment: [:])
            let settled = try directory.secretBox(environment: [:])
            #expect(try await Self.readBack(store, box: settled).token == "tg_token")
            // With the key in the environment, the new one comes from there and no file is written.
            let environment = [
                "TOLLGATE_MASTER_KEY": next.base64EncodedString(),
                "TOLLGATE_NEW_MASTER_KEY": SecretBox.generateKey().base64EncodedString(),
            ]
            _ = try await MasterKeyRotation.rotate(directory: directory, store: store, environment: environment)
            let fromEnvironment = try #require(SecretBox(base64: environment["TOLLGATE_NEW_MASTER_KEY"]!))
            #expect(try await Self.readBack(store, box: fromEnvironment).keys == 1)
            await #expect(throws: KeyDirectoryError.self) {
                try await MasterKeyRotation.rotate(
                    directory: directory, store: store,
                    environment: ["TOLLGATE_MASTER_KEY": environment["TOLLGATE_NEW_MASTER_KEY"]!])
            }
        }
    }
}
