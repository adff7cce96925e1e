import Foundation
import Hummingbird
import Synchronization
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Resolves `Authorization: Bearer <secret>` to a caller. Keys are cached for a few seconds so the
/// hot path does not read the database on every request; last-used times are written at most
/// once a minute per key. Both caches are bounded: known keys (least recently used dropped first)
/// and, much smaller, unknown ones, so that a flood of made-up keys costs reads, never memory.
public final class APIKeyAuthenticator: RouterMiddleware, Sendable {
    public typealias Context = TollgateRequestContext

    private struct Cached: Sendable {
        let record: APIKeyRecord
        let fetchedAt: Date
        var lastUsedWritten: Date?
    }

    private let store: any APIKeyStore
    private let clock: any TollgateClock
    private let known: Mutex<LRUCache<String, Cached>>
    /// Hashes of secrets that matched no key, and when: a retried bogus key costs one read per
    /// `cacheSeconds`, and a flood of distinct ones pushes each other out.
    private let unknown: Mutex<LRUCache<String, Date>>
    private let cacheSeconds: TimeInterval = 5

    /// The most unknown secrets remembered, whatever `capacity` is.
    public static let unknownCapacity = 1_024

    public init(store: any APIKeyStore, clock: any TollgateClock, capacity: Int = 10_000) {
        self.store = store
        self.clock = clock
        known = Mutex(LRUCache(capacity: capacity))
        unknown = Mutex(LRUCache(capacity: min(capacity, Self.unknownCapacity)))
    }

    /// Entries held now (known, unknown): what the bound is about.
    public var cachedEntries: (known: Int, unknown: Int) {
        (known.withLock { $0.count }, unknown.withLock { $0.count })
    }

    /// Entries, and lookups of known keys that were or were not cached, since start.
    var cacheStatistics: (entries: Int, hits: Int, misses: Int) {
        known.withLock { ($0.count, $0.hits, $0.misses) }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let secret = try BearerToken.from(request, naming: "API key", expected: "tg_sk_…")
        var context = context
        let caller = try await caller(secret: secret)
        context.caller = caller
        context.audit.actor(AuditActor(kind: .secretKey, id: caller.keyId))
        return try await next(request, context)
    }

    /// The caller a secret key stands for; 401 when it is not a live key.
    public func caller(secret: String) async throws -> Caller {
        guard secret.hasPrefix(APIKeys.secretPrefix) else {
            throw DomainError(.unauthorized, "malformed Authorization header: expected Bearer tg_sk_…")
        }
        let record = try await lookup(hash: OpaqueDigest.hex(secret))
        let now = clock.now()
        guard let record, record.revokedAt == nil, record.expiresAt.map({ $0 > now }) ?? true else {
            throw DomainError(.unauthorized, "unknown, revoked or expired API key")
        }
        return Caller(
            keyId: record.id, scopes: Set(record.scopes.compactMap(Scope.init(rawValue:))), bucket: record.bucket)
    }

    /// True when `secret` is a live key (answered from the cache like every lookup).
    public func isLive(secret: String) async -> Bool {
        (try? await caller(secret: secret)) != nil
    }

    /// Drops a key from the cache so that its revocation or new expiry applies at once on this node.
    public func forget(keyId: String) {
        known.withLock { cache in cache.removeAll { _, cached in cached.record.id == keyId } }
    }

    private func lookup(hash: String) async throws -> APIKeyRecord? {
        let now = clock.now()
        if let cached = known.withLock({ $0.get(hash) }), now.timeIntervalSince(cached.fetchedAt) < cacheSeconds {
            try await touch(hash: hash, record: cached.record, now: now)
            return cached.record
        }
        if let missed = unknown.withLock({ $0.get(hash) }), now.timeIntervalSince(missed) < cacheSeconds {
            return nil
        }
        guard let record = try await store.apiKey(secretHash: hash) else {
            known.withLock { _ = $0.removeValue(forKey: hash) }
            unknown.withLock { _ = $0.set(hash, now) }
            return nil
        }
        unknown.withLock { _ = $0.removeValue(forKey: hash) }
        known.withLock { cache in
            let written = cache.peek(hash)?.lastUsedWritten
            _ = cache.set(hash, Cached(record: record, fetchedAt: now, lastUsedWritten: written))
        }
        try await touch(hash: hash, record: record, now: now)
        return record
    }

    private func touch(hash: String, record: APIKeyRecord, now: Date) async throws {
        let due = known.withLock { cache -> Bool in
            guard var entry = cache.peek(hash) else { return false }
            if let written = entry.lastUsedWritten, now.timeIntervalSince(written) < 60 { return false }
            entry.lastUsedWritten = now
            cache.set(hash, entry)
            return true
        }
        if due { try await store.markAPIKeyUsed(id: record.id, at: now) }
    }
}
