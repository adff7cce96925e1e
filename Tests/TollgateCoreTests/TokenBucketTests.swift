import Testing
import TollgateCore

/// The rate limits' token bucket: exact integer arithmetic, and the property that makes it a
/// limit — over any stretch of time, no more than a full bucket plus what that time refills.
@Suite struct TokenBucketTests {
    @Test func aFullBucketGivesItsCapacityThenRefillsEvenly() {
        var bucket = TokenBucket(capacity: 60, now: 0)
        for _ in 1...60 { #expect(RateLimitVerdict.take(&bucket, now: 0).allowed) }
        let refused = RateLimitVerdict.take(&bucket, now: 0)
        #expect(!refused.allowed && refused.remaining == 0)
        #expect(refused.retryAfterSeconds == 1 && refused.resetSeconds == 60)
        #expect(!RateLimitVerdict.take(&bucket, now: 999).allowed)
        #expect(RateLimitVerdict.take(&bucket, now: 1000).allowed, "one token a second")
        // Long idleness fills the bucket, never more.
        var idle = bucket
        idle.refill(now: 10_000_000_000)
        #expect(idle.remaining == 60)
        // Time going backwards (another node's clock) refills nothing and breaks nothing.
        var backwards = bucket
        #expect(backwards.take(1, now: 500) == 0)
    }

    @Test func aSlowLimitSaysHowLongToWait() {
        var bucket = TokenBucket(capacity: 5, now: 0)
        for _ in 1...5 { _ = RateLimitVerdict.take(&bucket, now: 0) }
        let refused = RateLimitVerdict.take(&bucket, now: 0)
        #expect(refused.retryAfterSeconds == 12 && refused.resetSeconds == 60)
        #expect(!RateLimitVerdict.take(&bucket, now: 11_999).allowed)
        #expect(RateLimitVerdict.take(&bucket, now: 12_000).allowed)
    }

    /// Property: for random request times and capacities, the requests allowed between any two
    /// instants never exceed a bucket's worth plus the refill of that interval.
    @Test(arguments: 0..<20)
    func noIntervalLetsMoreThroughThanTheBucketAndItsRefill(seed: Int) {
        var generator = SplitMix(seed: UInt64(seed))
        let capacity = Int64(generator.next() % 200) + 1
        var bucket = TokenBucket(capacity: capacity, now: 0)
        var now: Int64 = 0
        var allowedAt: [Int64] = []
        for _ in 0..<2000 {
            now += Int64(generator.next() % 400)
            if RateLimitVerdict.take(&bucket, now: now).allowed { allowedAt.append(now) }
        }
        #expect(!allowedAt.isEmpty)
        var worst: (count: Int64, bound: Int64)?
        for start in allowedAt.indices {
            var end = start
            while end < allowedAt.count, allowedAt[end] - allowedAt[start] <= 120_000 {
                let count = Int64(end - start + 1)
                let bound = capacity + (allowedAt[end] - allowedAt[start]) * capacity / 60_000 + 1
                if count > bound, worst == nil { worst = (count, bound) }
                end += 1
            }
        }
        #expect(worst == nil, "at capacity \(capacity): \(String(describing: worst))")
    }
}

/// A small deterministic generator for property tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
