import Foundation
import TollgateCore

/// Who did something: an operator in the console, a product's secret key, an end user, the
/// server itself (a scheduled change), or someone not signed in (a failed sign-in).
public struct AuditActor: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case `operator`
        case secretKey = "secret_key"
        case user
        case system
        case anonymous
    }

    public let kind: Kind
    public let id: String?

    public init(kind: Kind, id: String?) {
        self.kind = kind
        self.id = id
    }

    public static let anonymous = AuditActor(kind: .anonymous, id: nil)
}

/// One state change as it is written: what the trail records before it is chained.
public struct AuditDraft: Sendable, Hashable {
    public var id: String
    public var at: Date
    public var actor: AuditActor
    public var action: String
    /// `kind:id`, e.g. `customer:cus_1`, `workspace:ws_1`.
    public var target: String?
    /// The workspace the change belongs to, for its owners' view of the trail.
    public var workspaceId: String?
    public var ip: String?
    public var userAgent: String?
    /// JSON of the state before and after, as far as the change concerns it.
    public var before: String?
    public var after: String?

    public init(
        id: String, at: Date, actor: AuditActor, action: String, target: String? = nil, workspaceId: String? = nil,
        ip: String? = nil, userAgent: String? = nil, before: String? = nil, after: String? = nil
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.workspaceId = workspaceId
        self.ip = ip
        self.userAgent = userAgent
        self.before = before
        self.after = after
    }
}

/// A chained entry: its place in the chain, the hash of the one before and its own.
public struct AuditEvent: Sendable, Hashable {
    public var sequence: Int64
    public var draft: AuditDraft
    public var previousHash: String
    public var hash: String

    public init(sequence: Int64, draft: AuditDraft, previousHash: String, hash: String) {
        self.sequence = sequence
        self.draft = draft
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// Where the chain stands: its last entry, and the last entry retention removed (verification
/// starts after it). Both carry a code under the chain's key, so they cannot be rewritten to
/// hide a deleted tail either.
public struct AuditHead: Sendable, Hashable {
    public var lastSequence: Int64
    public var lastHash: String
    public var prunedSequence: Int64
    public var prunedHash: String
    public var code: String

    public init(lastSequence: Int64, lastHash: String, prunedSequence: Int64, prunedHash: String, code: String) {
        self.lastSequence = lastSequence
        self.lastHash = lastHash
        self.prunedSequence = prunedSequence
        self.prunedHash = prunedHash
        self.code = code
    }

    /// No entry yet.
    public static let empty = AuditHead(lastSequence: 0, lastHash: "", prunedSequence: 0, prunedHash: "", code: "")
}

/// Which entries a reader wants: newest first, after `cursor` (the sequence of the last one seen).
public struct AuditQuery: Sendable, Hashable {
    public var actorKind: AuditActor.Kind?
    public var actorId: String?
    public var target: String?
    public var action: String?
    public var workspaceId: String?
    /// Entries about this account: it acted, or it (or its customer) was the target.
    public var concerning: String?
    public var from: Date?
    public var to: Date?
    public var before: Int64?
    public var limit: Int

    public init(limit: Int = 50) {
        self.limit = limit
    }
}

/// Computes the chain's hashes and the head's code; the store calls it inside the transaction
/// that appends, so two nodes never chain onto the same entry.
public protocol AuditSealer: Sendable {
    func hash(previous: String, sequence: Int64, draft: AuditDraft) -> String
    func headCode(_ head: AuditHead) -> String
}

public protocol AuditStore: Sendable {
    /// Appends one entry at the end of the chain, in a transaction of its own.
    @discardableResult
    func appendAuditEvent(_ draft: AuditDraft, sealer: any AuditSealer) async throws -> AuditEvent
    /// Appends entries in order at the end of the chain, in one transaction (a bulk change's).
    func appendAuditEvents(_ drafts: [AuditDraft], sealer: any AuditSealer) async throws
    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    /// The chain in order, from `after` (exclusive), for verification.
    func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEvent]
    func auditHead() async throws -> AuditHead
    /// Removes entries older than `cutoff` from the start of the chain; how many went.
    func pruneAuditEvents(before cutoff: Date, sealer: any AuditSealer) async throws -> Int
}

/// What a service tells the trail about the change it is making: what it is (`api_key.revoked`),
/// its target and the state before and after, as JSON (`AuditChange.state`). The door adds who
/// acted and from where.
public struct AuditChange: Sendable, Hashable {
    public var action: String
    /// Who acted, when the service knows it better than the door (a sign-in names its account).
    public var actor: AuditActor?
    public var target: String?
    public var workspaceId: String?
    public var before: String?
    public var after: String?

    public init(
        _ action: String, target: String?, workspaceId: String? = nil, before: (any Encodable)? = nil,
        after: (any Encodable)? = nil, actor: AuditActor? = nil
    ) {
        self.action = action
        self.actor = actor
        self.target = target
        self.workspaceId = workspaceId
        self.before = Self.state(before)
        self.after = Self.state(after)
    }

    /// Said by a service that found nothing to do (a repeated call, an idempotent replay).
    var changedNothing = false

    /// Nothing changed (a repeated call found the state it asks for): no entry is written.
    public var isUnchanged: Bool { changedNothing || (before != nil && before == after) }

    /// The service answered the request and changed nothing: no entry, from it or the door.
    public static func unchanged(_ action: String) -> AuditChange {
        var change = AuditChange(action, target: nil)
        change.changedNothing = true
        return change
    }

    /// A state as the trail keeps it: JSON as the API writes its answers, sorted keys and ISO
    /// 8601 dates, so equal states read alike.
    public static func state(_ value: (any Encodable)?) -> String? {
        guard let value, let data = try? stateEncoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static let stateEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// The door's half of an audit entry — who acts, from where — set for the task that serves one
/// request or one command, as swift-service-context carries a trace.
public protocol AuditRecorder: Sendable {
    /// Appends the entry for `change` through `tx`, the stores of the change's own transaction;
    /// none when it changed nothing (`isUnchanged`), though the change is still the one made.
    func record(_ change: AuditChange, in tx: any AuditStore) async throws
    /// The entries of a bulk change, in order, appended together.
    func record(_ changes: [AuditChange], in tx: any AuditStore) async throws
}

extension AuditRecorder {
    public func record(_ changes: [AuditChange], in tx: any AuditStore) async throws {
        for change in changes { try await record(change, in: tx) }
    }
}

public enum Audit {
    /// Who records the changes made by the current task; nil where no door acts (a scheduled
    /// job, a test calling a service directly): such changes make no entry.
    @TaskLocal public static var recorder: (any AuditRecorder)?

    /// Writes the current door's entry for `change` in the transaction of `tx`, so the change and
    /// its entry commit together.
    public static func record(_ change: AuditChange, in tx: any AuditStore) async throws {
        try await recorder?.record(change, in: tx)
    }

    /// The entries of a bulk change (a thousand customers created), written together.
    public static func record(_ changes: [AuditChange], in tx: any AuditStore) async throws {
        guard !changes.isEmpty else { return }
        try await recorder?.record(changes, in: tx)
    }
}

/// Keys kept in the database sealed under the master key, shared by every node (the audit
/// chain's key, signing keys). `tollgate keys rotate-master` seals them again.
public struct SealedKeyRecord: Sendable, Hashable {
    public let name: String
    public let sealed: String
    public let createdAt: Date

    public init(name: String, sealed: String, createdAt: Date) {
        self.name = name
        self.sealed = sealed
        self.createdAt = createdAt
    }
}

public protocol SealedKeyStore: Sendable {
    /// The key named `name`; when there is none, `record` is stored (the first node to ask wins,
    /// and every node then reads the winner's key).
    func sealedKey(name: String, creating record: SealedKeyRecord) async throws -> SealedKeyRecord
    /// Every sealed key whose name starts with `prefix`, oldest first.
    func sealedKeys(prefix: String) async throws -> [SealedKeyRecord]
    func insertSealedKey(_ record: SealedKeyRecord) async throws
    func deleteSealedKey(name: String) async throws
    /// Seals again, in one transaction, every value the database keeps sealed under the master
    /// key: these keys, TOTP seeds (users and operators), webhook secrets, the single-use tokens
    /// of mail not sent yet. How many it changed.
    func resealSecrets(_ reseal: @escaping @Sendable (String) throws -> String) async throws -> Int
}
