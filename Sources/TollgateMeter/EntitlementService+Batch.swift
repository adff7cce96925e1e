import TollgateCore
import TollgateStorage

/// One consume among many (`EntitlementService.consume(batch:)`).
public struct ConsumeRequest: Sendable, Hashable {
    public let customerId: String
    public let featureId: String
    public let amount: Int64
    public let idempotencyKey: String
    public let workspaceId: String?

    public init(
        customerId: String, featureId: String, amount: Int64, idempotencyKey: String, workspaceId: String? = nil
    ) {
        self.customerId = customerId
        self.featureId = featureId
        self.amount = amount
        self.idempotencyKey = idempotencyKey
        self.workspaceId = workspaceId
    }
}

extension EntitlementService {
    /// Consumes many at once, each exactly as `consume` would (its own idempotency key, its own
    /// answer, in the order given), with one durable commit and one suspension for all of them
    /// instead of one task and one wait each. Every answer is durable when this returns.
    ///
    /// Consumes that draw on a lease or a spend cap shared by several nodes, or are paid in
    /// credits, take the one-by-one path, after the others.
    public func consume(batch requests: [ConsumeRequest]) async -> [Result<UsageOutcome, any Error>] {
        var results = [Result<UsageOutcome, any Error>?](repeating: nil, count: requests.count)
        var counted: [Counted] = []
        var refused: [(index: Int, flight: IdempotencyGate.Flight, prepared: PreparedConsume, outcome: UsageOutcome)] =
            []
        var followers: [(index: Int, flight: IdempotencyGate.Flight)] = []
        // Keys held by another request, and who in this batch leads each flight.
        var others: [(index: Int, flight: IdempotencyGate.Flight)] = []
        var leaders: [IdempotencyGate.Flight: Int] = [:]
        var oneByOne: [Int] = []
        for (index, request) in requests.enumerated() {
            let prepared: PreparedConsume
            let flight: IdempotencyGate.Flight
            do {
                prepared = try await prepare(request)
                let quota = prepared.target.quota
                if leasedLimit(quota) != nil || isDecidedAcrossNodes(quota, subject: prepared.target.subject)
                    || (quota.feature.creditCost != nil && credits != nil)
                {
                    oneByOne.append(index)
                    continue
                }
                switch gate.claim(scope: prepared.scope, key: request.idempotencyKey, fingerprint: prepared.fingerprint)
                {
                case .follower(let leader):
                    followers.append((index, leader))
                    continue
                case .otherRequest(let leader):
                    others.append((index, leader))
                    continue
                case .leader(let claimed):
                    flight = claimed
                    leaders[claimed] = index
                }
            } catch {
                results[index] = .failure(error)
                continue
            }
            // This call leads the key: decide and count in memory now, commit below.
            do {
                try await counters.ensureLoaded(prepared.key, windowEnd: prepared.target.quota.window?.end) {
                    try await store.counterValue(prepared.key)
                }
                let outcome = try await decideAndCount(
                    key: prepared.key, target: prepared.target, customerId: request.customerId, amount: request.amount)
                guard outcome.allowed else {
                    refused.append((index, flight, prepared, outcome))
                    continue
                }
                let entry = usageEntry(
                    key: prepared.key, quota: prepared.target.quota, delta: request.amount, scope: prepared.scope,
                    idempotencyKey: request.idempotencyKey, fingerprint: prepared.fingerprint, outcome: outcome,
                    leaseNode: nil
                )
                counted.append(
                    Counted(
                        index: index, flight: flight, scope: prepared.scope, key: prepared.key, outcome: outcome,
                        entry: entry))
            } catch {
                results[index] = await finish(
                    flight, scope: prepared.scope, key: request.idempotencyKey, found: .failure(error))
            }
        }
        // One durable commit for every counted consume.
        let applied: Result<[Bool], any Error>
        do { applied = .success(try await committer.submit(counted.map(\.entry))) } catch { applied = .failure(error) }
        var undone = false
        for (position, item) in counted.enumerated() {
            let request = requests[item.index]
            let found: Result<IdempotencyGate.Answer, any Error>
            switch applied {
            case .success(let flags) where flags[position]:
                found = .success(.outcome(item.outcome))
            case .success:
                // The key was answered before (a retry after a restart): not counted again.
                counters.update(item.key) { $0 -= request.amount }
                (found, undone) = (.success(.alreadyAnswered), true)
            case .failure(let error):
                counters.update(item.key) { $0 -= request.amount }
                (found, undone) = (.failure(error), true)
            }
            results[item.index] = await finish(
                item.flight, scope: item.scope, key: request.idempotencyKey, found: found)
        }
        for item in refused {
            let request = requests[item.index]
            var found = Result<IdempotencyGate.Answer, any Error>.success(.refusal(item.outcome))
            if undone {
                // Units counted for retries (or a failed commit) were given back: a consume refused
                // while they were held is decided again, as it would have been one by one.
                found = await Result(awaiting: { try await self.decideAndCommit(request, prepared: item.prepared) })
            }
            results[item.index] = await finish(
                item.flight, scope: item.prepared.scope, key: request.idempotencyKey, found: found)
        }
        // A key another request holds: refused if this batch's leader of it was answered "allowed"
        // (recorded); otherwise decided on its own, one by one, as it would be after that request.
        for (index, leader) in others {
            if let led = leaders[leader], case .success(let outcome)? = results[led], outcome.allowed {
                results[index] = .failure(IdempotencyGate.reused(requests[index].idempotencyKey))
            } else {
                oneByOne.append(index)
            }
        }
        await withTaskGroup(of: (Int, Result<UsageOutcome, any Error>).self) { group in
            for index in oneByOne {
                let request = requests[index]
                group.addTask {
                    await (
                        index,
                        Result(awaiting: {
                            try await self.consume(
                                customerId: request.customerId, featureId: request.featureId, amount: request.amount,
                                idempotencyKey: request.idempotencyKey, workspaceId: request.workspaceId
                            )
                        })
                    )
                }
            }
            for await (index, result) in group { results[index] = result }
        }
        for (index, leader) in followers {
            if let led = leaders[leader], let answer = results[led] {
                results[index] = answer
            } else if let answer = await gate.wait(for: leader) {
                results[index] = answer
            } else {
                // The leader ended before this joined: ask again, as a retry would.
                let request = requests[index]
                results[index] = await Result(awaiting: {
                    try await self.consume(
                        customerId: request.customerId, featureId: request.featureId, amount: request.amount,
                        idempotencyKey: request.idempotencyKey, workspaceId: request.workspaceId)
                })
            }
        }
        return results.map { $0! }
    }

    /// The leader's end of a key (`IdempotencyGate.finish`), replaying the stored answer when
    /// what it found cannot answer by itself.
    private func finish(
        _ flight: IdempotencyGate.Flight, scope: String, key: String, found: Result<IdempotencyGate.Answer, any Error>
    ) async -> Result<UsageOutcome, any Error> {
        await gate.finish(
            flight, scope: scope, key: key, found: found,
            lookup: { try await self.store.idempotencyRecord(scope: scope, key: key) })
    }

    /// Decides one consume again and commits it alone if it is allowed now.
    private func decideAndCommit(_ request: ConsumeRequest, prepared: PreparedConsume) async throws
        -> IdempotencyGate.Answer
    {
        let outcome = try await decideAndCount(
            key: prepared.key, target: prepared.target, customerId: request.customerId, amount: request.amount)
        guard outcome.allowed else { return .refusal(outcome) }
        return try await commit(
            key: prepared.key, quota: prepared.target.quota, delta: request.amount, scope: prepared.scope,
            idempotencyKey: request.idempotencyKey,
            fingerprint: prepared.fingerprint, outcome: outcome, leaseNode: nil,
            undo: { [counters] in counters.update(prepared.key) { $0 -= request.amount } }, settle: {}
        )
    }

    /// A consume of a batch counted in memory, waiting for the batch's commit.
    private struct Counted {
        let index: Int
        let flight: IdempotencyGate.Flight
        let scope: String
        let key: CounterKey
        let outcome: UsageOutcome
        let entry: UsageEntry
    }
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
