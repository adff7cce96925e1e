import Crypto
import Foundation
import TollgateCore
import TollgateStorage

/// The audit trail's chain: every entry's hash is an HMAC-SHA256, under a key kept sealed in the
/// database, of the previous entry's hash and every field of the entry. Whoever can write to the
/// database but does not hold the master key cannot edit, insert or delete an entry (or the head
/// that names the last one) without `verify` finding the first place it happened.
public struct AuditChain: AuditSealer {
    /// 32 bytes (swift-crypto's SymmetricKey is not Sendable; it is rebuilt on use).
    private let keyData: Data

    public init?(keyData: Data) {
        guard keyData.count == 32 else { return nil }
        self.keyData = keyData
    }

    public func hash(previous: String, sequence: Int64, draft: AuditDraft) -> String {
        let fields: [String?] = [
            previous, String(sequence), draft.id, String(Millis.from(draft.at)), draft.actor.kind.rawValue,
            draft.actor.id, draft.action, draft.target, draft.workspaceId, draft.ip, draft.userAgent, draft.before,
            draft.after,
        ]
        return code(fields)
    }

    public func headCode(_ head: AuditHead) -> String {
        code(["head", String(head.lastSequence), head.lastHash, String(head.prunedSequence), head.prunedHash])
    }

    /// Each field with its length (or a mark for absent), so no two different entries read alike.
    private func code(_ fields: [String?]) -> String {
        var message = Data()
        for field in fields {
            if let field {
                let bytes = Data(field.utf8)
                message.append(contentsOf: Array("\(bytes.count):".utf8))
                message.append(bytes)
            } else {
                message.append(contentsOf: Array("-".utf8))
            }
            message.append(0x1F)
        }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: keyData)))
    }
}

/// What verification found: every entry in order, or the first that is not as it was written.
public enum AuditVerification: Sendable, Hashable, CustomStringConvertible {
    case intact(entries: Int, lastSequence: Int64)
    case broken(AuditBreak)

    public var description: String {
        switch self {
        case .intact(let entries, let last):
            return entries == 0
                ? "the audit trail is intact (no entry)"
                : "the audit trail is intact: \(entries) entries, the last #\(last)"
        case .broken(let problem): return problem.description
        }
    }
}

public struct AuditBreak: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The entry's fields no longer give its hash.
        case edited
        /// An entry beyond the last one the head names.
        case inserted
        /// Entries are missing before this sequence.
        case deleted
        /// The head (last entry, retention mark) was rewritten.
        case headRewritten = "head_rewritten"
    }

    public let kind: Kind
    public let sequence: Int64
    public let id: String?

    public init(kind: Kind, sequence: Int64, id: String?) {
        self.kind = kind
        self.sequence = sequence
        self.id = id
    }

    public var description: String {
        let entry = "#\(sequence)" + (id.map { " (\($0))" } ?? "")
        switch kind {
        case .edited: return "entry \(entry) was edited: its content does not give its hash"
        case .inserted: return "entry \(entry) was inserted: it was never chained"
        case .deleted: return "entry \(entry) was deleted"
        case .headRewritten: return "the trail's head was rewritten (it names entry #\(sequence))"
        }
    }
}

extension AuditChain {
    /// Walks the chain page by page from the retention mark to the head.
    public func verify(store: any AuditStore, pageSize: Int = 1000) async throws -> AuditVerification {
        let head = try await store.auditHead()
        var walker = AuditChainWalker(chain: self, head: head)
        if let problem = walker.checkHead() { return .broken(problem) }
        var after = head.prunedSequence
        while true {
            let page = try await store.auditChain(after: after, limit: pageSize)
            for event in page {
                if let problem = walker.accept(event) { return .broken(problem) }
            }
            guard let last = page.last else { break }
            after = last.sequence
        }
        if let problem = walker.finish() { return .broken(problem) }
        return .intact(entries: walker.count, lastSequence: head.lastSequence)
    }
}

/// The verification's state: fed entries in sequence order, it says where the chain breaks.
public struct AuditChainWalker: Sendable {
    let chain: AuditChain
    let head: AuditHead
    private var expectedSequence: Int64
    private var previousHash: String
    public private(set) var count = 0

    public init(chain: AuditChain, head: AuditHead) {
        self.chain = chain
        self.head = head
        expectedSequence = head.prunedSequence + 1
        previousHash = head.prunedHash
    }

    /// An empty trail's head has no code yet; any other must carry the chain's.
    public func checkHead() -> AuditBreak? {
        if head == .empty { return nil }
        return chain.headCode(head) == head.code
            ? nil : AuditBreak(kind: .headRewritten, sequence: head.lastSequence, id: nil)
    }

    public mutating func accept(_ event: AuditEvent) -> AuditBreak? {
        if event.sequence > head.lastSequence {
            return AuditBreak(kind: .inserted, sequence: event.sequence, id: event.draft.id)
        }
        if event.sequence > expectedSequence {
            return AuditBreak(kind: .deleted, sequence: expectedSequence, id: nil)
        }
        let recomputed = chain.hash(previous: previousHash, sequence: event.sequence, draft: event.draft)
        // Sequences are contiguous, so a row in its place whose hashes do not follow was changed
        // (or put in the place of one that was).
        guard event.previousHash == previousHash, event.hash == recomputed else {
            return AuditBreak(kind: .edited, sequence: event.sequence, id: event.draft.id)
        }
        previousHash = event.hash
        expectedSequence = event.sequence + 1
        count += 1
        return nil
    }

    /// After the last entry: the chain must end where the head says.
    public func finish() -> AuditBreak? {
        if expectedSequence <= head.lastSequence {
            return AuditBreak(kind: .deleted, sequence: expectedSequence, id: nil)
        }
        return nil
    }
}
