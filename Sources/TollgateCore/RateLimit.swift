/// How many requests a caller may make per minute (catalog `rateLimits`). A token bucket: the
/// whole minute's allowance may come at once, and it refills evenly over the minute.
public struct RateLimit: Hashable, Sendable {
    public let requestsPerMinute: Int64

    public init(requestsPerMinute: Int64) {
        self.requestsPerMinute = requestsPerMinute
    }
}

/// The catalog's limits for callers who are not end users: each secret key, and each IP address
/// on routes that take no credentials. End users' limits come with their plan.
public struct CatalogRateLimits: Hashable, Sendable {
    public var secretKey: RateLimit?
    public var ip: RateLimit?

    public init(secretKey: RateLimit? = nil, ip: RateLimit? = nil) {
        self.secretKey = secretKey
        self.ip = ip
    }
}

/// A token bucket full at `capacity` tokens and refilled by `capacity` tokens a minute, counted
/// in units of which a token is a minute's worth of milliseconds: a millisecond refills exactly
/// `capacity` units, so refilling by the millisecond loses nothing however often it is done.
public struct TokenBucket: Hashable, Sendable {
    public static let unitsPerToken: Int64 = 60_000

    public let capacity: Int64
    /// In units (`unitsPerToken` a token).
    public private(set) var level: Int64
    /// Milliseconds since 1970 when `level` was last brought up to date.
    public private(set) var updatedAt: Int64

    /// A full bucket.
    public init(capacity: Int64, now: Int64) {
        self.init(capacity: capacity, level: max(1, capacity) * Self.unitsPerToken, updatedAt: now)
    }

    public init(capacity: Int64, level: Int64, updatedAt: Int64) {
        self.capacity = max(1, capacity)
        self.level = level
        self.updatedAt = updatedAt
    }

    var full: Int64 { capacity * Self.unitsPerToken }

    /// Adds what the time since the last update refilled; time going backwards refills nothing.
    public mutating func refill(now: Int64) {
        let elapsed = min(max(0, now - updatedAt), Self.unitsPerToken)
        level = min(full, level + elapsed * capacity)
        updatedAt = max(updatedAt, now)
    }

    /// Takes up to `wanted` whole tokens; how many it gave.
    public mutating func take(_ wanted: Int64, now: Int64) -> Int64 {
        refill(now: now)
        let given = min(wanted, level / Self.unitsPerToken)
        level -= given * Self.unitsPerToken
        return given
    }

    /// Whole tokens left.
    public var remaining: Int64 { level / Self.unitsPerToken }

    /// Milliseconds until one more whole token.
    public var millisecondsToNextToken: Int64 {
        let missing = Self.unitsPerToken - level % Self.unitsPerToken
        return (missing + capacity - 1) / capacity
    }

    /// Milliseconds until the bucket is full again.
    public var millisecondsToFull: Int64 { (full - level + capacity - 1) / capacity }
}

/// The answer to one request under a limit, with what the IETF `RateLimit` fields say.
public struct RateLimitVerdict: Hashable, Sendable {
    public let allowed: Bool
    /// Requests that may still be made now.
    public let remaining: Int64
    /// Seconds until the allowance is whole again (`t` of the `RateLimit` field).
    public let resetSeconds: Int64
    /// Seconds to wait before a refused request may succeed (`Retry-After`).
    public let retryAfterSeconds: Int64

    public init(allowed: Bool, remaining: Int64, resetSeconds: Int64, retryAfterSeconds: Int64) {
        self.allowed = allowed
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// One request against `bucket`.
    public static func take(_ bucket: inout TokenBucket, now: Int64) -> RateLimitVerdict {
        let allowed = bucket.take(1, now: now) == 1
        return RateLimitVerdict(
            allowed: allowed, remaining: bucket.remaining, resetSeconds: seconds(bucket.millisecondsToFull),
            retryAfterSeconds: allowed ? 0 : max(1, seconds(bucket.millisecondsToNextToken)))
    }

    /// An allowed request whose caller holds `held` tokens of its own beside what `bucket` has
    /// left (a node's batch taken from a shared bucket).
    public static func allowed(holding held: Int64, beside bucket: TokenBucket) -> RateLimitVerdict {
        RateLimitVerdict(
            allowed: true, remaining: held + bucket.remaining, resetSeconds: seconds(bucket.millisecondsToFull),
            retryAfterSeconds: 0)
    }

    static func seconds(_ milliseconds: Int64) -> Int64 { (milliseconds + 999) / 1000 }
}
