import Foundation
import TollgateCore
import TollgateStorage

/// `tollgate keys rotate-master`: a new master key, and every secret the database keeps sealed
/// (TOTP seeds, webhook secrets, signing keys, the audit chain's key, tokens of mail not yet sent)
/// sealed again under it, in one transaction. The new key is written beside the old one first
/// (`master.key.next`) and takes its place once the transaction committed; a crash in between is
/// settled at the next start by a canary sealed with the rest: whichever key opens it is the one.
public enum MasterKeyRotation {
    static let canaryName = "master/canary"
    static let canary: [UInt8] = Array("tollgate master key".utf8)

    /// Finishes or undoes a rotation a crash interrupted. A key from the environment has no
    /// file to settle.
    public static func settle(
        directory: KeyDirectory, store: any SealedKeyStore,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        guard environment["TOLLGATE_MASTER_KEY"] == nil, let next = try directory.pendingMasterKey() else { return }
        let canary = try await store.sealedKeys(prefix: canaryName).first
        if let canary, (try? next.open(canary.sealed)) == Self.canary {
            try directory.commitPendingMasterKey()
        } else {
            try directory.discardPendingMasterKey()
        }
    }

    /// How many sealed values were sealed again. With `TOLLGATE_MASTER_KEY` set, the new key
    /// comes from `TOLLGATE_NEW_MASTER_KEY` and nothing is written: the operator then sets it in
    /// place of the old one.
    public static func rotate(
        directory: KeyDirectory, store: any SealedKeyStore,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Int {
        try await settle(directory: directory, store: store, environment: environment)
        let old = try directory.secretBox(environment: environment)
        // The canary, sealed under the old key, so that a crash before the commit is undone.
        _ = try await store.sealedKey(
            name: canaryName,
            creating: SealedKeyRecord(name: canaryName, sealed: try old.seal(canary), createdAt: Date()))
        let fromEnvironment = environment["TOLLGATE_MASTER_KEY"] != nil
        let newKey: Data
        if fromEnvironment {
            guard let text = environment["TOLLGATE_NEW_MASTER_KEY"], let data = Data(base64Encoded: text),
                data.count == 32
            else {
                throw KeyDirectoryError.invalid(
                    "the master key comes from TOLLGATE_MASTER_KEY: put the new one (base64 of 32 bytes) in "
                        + "TOLLGATE_NEW_MASTER_KEY")
            }
            newKey = data
        } else {
            newKey = SecretBox.generateKey()
            try directory.writePendingMasterKey(newKey)
        }
        guard let new = SecretBox(keyData: newKey) else { throw SecretBoxError.corrupt }
        let resealed = try await store.resealSecrets { sealed in try new.seal(try old.open(sealed)) }
        if !fromEnvironment { try directory.commitPendingMasterKey() }
        return resealed
    }
}
