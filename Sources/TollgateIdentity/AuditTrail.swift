import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Appends to and reads the audit trail; its chain key lives in the database, sealed under the
/// master key, so every node chains with the same one and rotating the master key keeps it. The
/// key is read (or made) on first use.
public final class AuditTrail: Sendable {
    public static let keyName = "audit/chain"

    public let store: any AuditStore & SealedKeyStore
    let box: SecretBox
    let clock: any TollgateClock
    private let loaded = Mutex<AuditChain?>(nil)

    public init(store: any AuditStore & SealedKeyStore, box: SecretBox, clock: any TollgateClock) {
        self.store = store
        self.box = box
        self.clock = clock
    }

    public func chain() async throws -> AuditChain {
        if let chain = loaded.withLock({ $0 }) { return chain }
        let created = SealedKeyRecord(
            name: Self.keyName, sealed: try box.seal(Array(SecretBox.generateKey())), createdAt: clock.now())
        let stored = try await store.sealedKey(name: Self.keyName, creating: created)
        guard let chain = AuditChain(keyData: Data(try box.open(stored.sealed))) else {
            throw SecretBoxError.corrupt
        }
        loaded.withLock { $0 = chain }
        return chain
    }

    @discardableResult
    public func record(_ draft: AuditDraft) async throws -> AuditEvent {
        try await store.appendAuditEvent(draft, sealer: try await chain())
    }

    /// A draft stamped now with a fresh id.
    public func draft(actor: AuditActor, action: String, target: String? = nil) -> AuditDraft {
        AuditDraft(id: Secrets.randomId(prefix: "aud_"), at: clock.now(), actor: actor, action: action, target: target)
    }

    public func verify() async throws -> AuditVerification { try await chain().verify(store: store) }

    /// Drops entries older than `retention`; how many went.
    public func prune(retention: TimeInterval) async throws -> Int {
        try await store.pruneAuditEvents(before: clock.now().addingTimeInterval(-retention), sealer: try await chain())
    }
}
