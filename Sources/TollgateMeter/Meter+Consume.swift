import Foundation
import Logging
import Synchronization
import TollgateCore
import TollgateStorage

/// One consume among many (`Meter.consume(batch:)`).
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

extension Meter {
    /// Counts `amount` if it fits; answers only once the count is durable. A batch of one.
    /// With a workspace, the customer must be a member who may use features (not a viewer); the
    /// workspace's shared pool is drawn on when its plan pools quotas, else the customer's own.
    public func consume(
        customerId: String, featureId: String, amount: Int64, idempotencyKey: String, workspaceId: String? = nil
    ) async throws -> UsageOutcome {
        let request = ConsumeRequest(
            customerId: customerId, featureId: featureId, amount: amount, idempotencyKey: idempotencyKey,
            workspaceId: workspaceId)
        return try await consume(batch: [request])[0].get()
    }

    /// Consumes many at once, each exactly as alone (its own idempotency key, its own answer, in
    /// the order given), with one durable commit for all the counts decided in memory. Every
    /// answer is durable when this returns.
    ///
    /// Each consume leads its key, or follows the flight of the same request (and gets its
    /// answer), or waits for another request holding the key and is then passed over again.
    public func consume(batch requests: [ConsumeRequest]) async -> [Result<UsageOutcome, any Error>] {
        var results = [Result<UsageOutcome, any Error>?](repeating: nil, count: requests.count)
        var pending = Array(requests.indices)
        while !pending.isEmpty {
            pending = await pass(over: pending, of: requests, into: &results)
        }
        return results.map { $0! }
    }

    /// One pass over the consumes not answered yet. Returns those to pass over again: their key
    /// was held by another request, which has ended since.
    private func pass(
        over pending: [Int], of requests: [ConsumeRequest], into results: inout [Result<UsageOutcome, any Error>?]
    ) async -> [Int] {
        var led: [Led] = []
        var leaders: [IdempotencyGate.Flight: Int] = [:]
        var followers: [(index: Int, flight: IdempotencyGate.Flight)] = []
        var others: [(index: Int, flight: IdempotencyGate.Flight)] = []
        for index in pending {
            let request = requests[index]
            let prepared: PreparedConsume
            do { prepared = try await prepare(request) } catch {
                results[index] = .failure(error)
                continue
            }
            switch gate.claim(scope: prepared.scope, key: request.idempotencyKey, fingerprint: prepared.fingerprint) {
            case .follower(let flight):
                followers.append((index, flight))
            case .otherRequest(let flight):
                others.append((index, flight))
            case .leader(let flight):
                leaders[flight] = index
                led.append(Led(index: index, flight: flight, prepared: prepared, decided: await decide(prepared)))
            }
        }
        // One durable commit for every consume counted; those not applied are undone in memory.
        var committed = await commit(led.compactMap(\.counted))[...]
        let unitsGivenBack = committed.contains {
            if case .success(.outcome) = $0 { false } else { true }
        }
        var refused: [UsageEntry] = []
        for item in led {
            let found: Result<IdempotencyGate.Answer, any Error>
            switch item.decided {
            case .counted:
                found = committed.removeFirst()
            case .answered(.success(.refusal)) where unitsGivenBack:
                // Units counted for retries (or a failed commit) were given back: a consume refused
                // while they were held is decided again, as it would have been alone.
                found = await commitAlone(item.prepared)
            case .answered(let answer):
                found = answer
            }
            if case .success(.refusal(let outcome)) = found { refused.append(refusalFact(item.prepared, outcome)) }
            let (scope, key) = (item.prepared.scope, item.prepared.request.idempotencyKey)
            results[item.index] = await gate.finish(
                item.flight, scope: scope, key: key, found: found,
                lookup: { try await self.store.idempotencyRecord(scope: scope, key: key) })
        }
        await recordRefusals(refused)
        var again: [Int] = []
        // A key another request holds: refused if that request was answered "allowed" here
        // (recorded); otherwise decided again once it ended.
        for (index, flight) in others {
            if let leader = leaders[flight] {
                if case .success(let outcome)? = results[leader], outcome.allowed {
                    results[index] = .failure(IdempotencyGate.reused(requests[index].idempotencyKey))
                } else {
                    again.append(index)
                }
            } else {
                _ = await gate.wait(for: flight)
                again.append(index)
            }
        }
        for (index, flight) in followers {
            if let leader = leaders[flight], let answer = results[leader] {
                results[index] = answer
            } else if let answer = await gate.wait(for: flight) {
                results[index] = answer
            } else {
                // The leader ended before this joined: claim again, as a retry would.
                again.append(index)
            }
        }
        return again.sorted()
    }

    /// Refusals are not idempotent answers (a retry after an upgrade may succeed), but the usage
    /// analytics count them: their facts are committed before this call returns its answers. A
    /// failed commit loses only these counts, never an answer.
    private func recordRefusals(_ entries: [UsageEntry]) async {
        guard !entries.isEmpty else { return }
        do { _ = try await committer.submit(entries) } catch {
            logger.warning("refusals not recorded in the usage analytics", metadata: ["error": "\(error)"])
        }
    }

    /// What a refusal adds to the usage analytics.
    func refusalFact(_ prepared: PreparedConsume, _ outcome: UsageOutcome) -> UsageEntry {
        UsageEntry(
            deltas: [], record: nil,
            fact: UsageFact(
                customerId: prepared.target.subjectId, feature: prepared.request.featureId,
                planId: prepared.target.plan.id, units: 0, refusal: outcome.reason ?? .userQuotaExhausted,
                upgradeTier: outcome.upgradeTier))
    }

    /// A consume this call leads, and what deciding it found.
    private struct Led {
        let index: Int
        let flight: IdempotencyGate.Flight
        let prepared: PreparedConsume
        let decided: Decided

        var counted: Counted? {
            if case .counted(let counted) = decided { counted } else { nil }
        }
    }

    /// What deciding a consume found before the commit.
    enum Decided {
        /// Allowed and counted in memory (or taken from a lease): durable once committed.
        case counted(Counted)
        /// Answered without the commit: a refusal, a failure, or a decision the database made and
        /// committed itself.
        case answered(Result<IdempotencyGate.Answer, any Error>)
    }

    /// A change counted in memory, waiting for its durable commit: what to write, what to
    /// answer, how to take it back (not durable, or its key was answered before) and what to do
    /// once durable.
    struct Counted {
        let entry: UsageEntry
        let outcome: UsageOutcome
        let undo: @Sendable () -> Void
        let settle: @Sendable () -> Void
    }

    /// Commits every change in one durable write; what each found. A change not applied (its key
    /// was answered before) or not durable is undone in memory.
    func commit(_ counted: [Counted]) async -> [Result<IdempotencyGate.Answer, any Error>] {
        guard !counted.isEmpty else { return [] }
        do {
            let applied = try await committer.submit(counted.map(\.entry))
            return zip(counted, applied).map { item, applied in
                if applied {
                    item.settle()
                    return .success(.outcome(item.outcome))
                }
                item.undo()
                return .success(.alreadyAnswered)
            }
        } catch {
            // Not durable, so not counted: undo the in-memory change and fail the caller.
            for item in counted { item.undo() }
            return counted.map { _ in .failure(error) }
        }
    }

    /// Decides one consume and commits it on its own.
    private func commitAlone(_ prepared: PreparedConsume) async -> Result<IdempotencyGate.Answer, any Error> {
        switch await decide(prepared) {
        case .counted(let counted): return await commit([counted])[0]
        case .answered(let answer): return answer
        }
    }

    /// Decides a consume this call leads: in the database for a spend cap shared by several
    /// nodes, from this node's lease when several nodes share the counter, else in memory; then
    /// debits its credits when it is priced in credits.
    func decide(_ prepared: PreparedConsume) async -> Decided {
        let (request, target, quota, key) = (prepared.request, prepared.target, prepared.target.quota, prepared.key)
        do {
            if isDecidedAcrossNodes(quota, subject: target.subject) {
                return .answered(.success(try await consumeUnderCapAcrossNodes(prepared)))
            }
            let outcome: UsageOutcome
            let undo: @Sendable () -> Void, settle: @Sendable () -> Void
            let leaseNode: String?
            if let leases, let limit = leasedLimit(quota) {
                outcome = try await consumeFromLease(
                    leases, key: key, target: target, customerId: request.customerId, amount: request.amount,
                    limit: limit)
                if !outcome.allowed { return .answered(.success(try await recordRefusal(outcome, prepared, leases))) }
                (undo, settle, leaseNode) = (
                    { leases.giveBack(key, amount: request.amount) }, { leases.settle(key, amount: request.amount) },
                    leases.node
                )
            } else {
                try await counters.ensureLoaded(key, windowEnd: quota.window?.end) { try await store.counterValue(key) }
                outcome = try await decideAndCount(
                    key: key, target: target, customerId: request.customerId, amount: request.amount)
                (undo, settle, leaseNode) = ({ [counters] in counters.update(key) { $0 -= request.amount } }, {}, nil)
            }
            // A refusal is not recorded: a retry after an upgrade should be able to succeed.
            guard outcome.allowed else { return .answered(.success(.refusal(outcome))) }
            if let refused = try await payCredits(prepared, outcome: outcome, undo: undo) {
                return .answered(.success(.refusal(refused)))
            }
            var entry = usageEntry(
                key: key, quota: quota, delta: request.amount, scope: prepared.scope,
                idempotencyKey: request.idempotencyKey, fingerprint: prepared.fingerprint, outcome: outcome,
                leaseNode: leaseNode)
            entry.fact = prepared.usageFact
            return .counted(Counted(entry: entry, outcome: outcome, undo: undo, settle: settle))
        } catch {
            return .answered(.failure(error))
        }
    }

    /// A refusal from a lease is recorded as the key's answer for the lease's lifetime: a copy of
    /// the request on another node, whose units are in flight, finds the key answered when it
    /// commits, gives its units back and answers this refusal too — copies never disagree. If a
    /// copy committed first, its answer stands and is replayed.
    private func recordRefusal(_ outcome: UsageOutcome, _ prepared: PreparedConsume, _ leases: QuotaLeases)
        async throws -> IdempotencyGate.Answer
    {
        let now = clock.now()
        let record = IdempotencyRecord(
            scope: prepared.scope, key: prepared.request.idempotencyKey, fingerprint: prepared.fingerprint,
            response: outcome.storedJSON, createdAt: now)
        let ttl = leases.settings.ttl.components
        let until = now.addingTimeInterval(Double(ttl.seconds) + Double(ttl.attoseconds) / 1e18)
        return try await store.recordRefusal(record, until: until) ? .refusal(outcome) : .alreadyAnswered
    }

    /// Debits what an allowed consume costs in credits, under the consume's idempotency key (a
    /// retry after a failed count never charges twice). Not enough credits undoes the count and
    /// answers the refusal; nil when paid (or nothing to pay).
    private func payCredits(_ prepared: PreparedConsume, outcome: UsageOutcome, undo: () -> Void) async throws
        -> UsageOutcome?
    {
        let request = prepared.request
        guard let cost = prepared.target.quota.feature.creditCost, let credits else { return nil }
        do {
            _ = try await credits.debit(
                customerId: prepared.target.subjectId, amount: cost.amount * request.amount,
                creditType: cost.creditType, reference: "\(request.featureId):\(request.idempotencyKey)",
                idempotencyKey: "consume:\(request.customerId):\(request.idempotencyKey)"
            )
            return nil
        } catch let error as DomainError where error.code == .insufficientCredits {
            undo()
            var refused = outcome
            refused.allowed = false
            refused.used -= request.amount
            refused.remaining = refused.limit.map { max(0, $0 - refused.used) }
            refused.reason = .insufficientCredits
            return refused
        } catch {
            undo()
            throw error
        }
    }

    /// A consume checked and resolved: what it draws on and how its key is scoped.
    struct PreparedConsume {
        let request: ConsumeRequest
        let target: Target
        let key: CounterKey
        let scope: String
        let fingerprint: String

        /// What the consume adds to the usage analytics once counted.
        var usageFact: UsageFact {
            UsageFact(
                customerId: target.subjectId, feature: request.featureId, planId: target.plan.id,
                units: request.amount)
        }
    }

    func prepare(_ request: ConsumeRequest) async throws -> PreparedConsume {
        try Self.validate(amount: request.amount)
        let target = try await resolve(
            customerId: request.customerId, featureId: request.featureId, workspaceId: request.workspaceId)
        guard let window = target.quota.window else {
            throw DomainError.invalidField(
                "feature", "\(request.featureId) is a boolean feature: check it, there is nothing to consume")
        }
        return PreparedConsume(
            request: request, target: target,
            key: counterKey(subjectId: target.subjectId, featureId: request.featureId, window: window),
            scope: "consume:\(request.customerId)",
            fingerprint: "\(request.featureId)|\(request.amount)|\(request.workspaceId ?? "")"
        )
    }

    /// Decides under the counter's lock and counts what is allowed. Past the limit, a feature with
    /// an overage price continues: without bound, or, under a spend cap, while the whole
    /// period's overage (all features) stays within the cap.
    func decideAndCount(key: CounterKey, target: Target, customerId: String, amount: Int64) async throws -> UsageOutcome
    {
        let (plan, quota) = (target.plan, target.quota)
        func count(allowance: Int64?) -> UsageOutcome {
            counters.update(key) { used -> UsageOutcome in
                let decision = Entitlements.decide(
                    catalog: catalog, plan: plan, quota: quota, used: used, amount: amount,
                    exhaustedReason: target.exhaustedReason,
                    overageAllowance: allowance
                )
                if decision.allowed { used += amount }
                return self.outcome(
                    decision, customerId: customerId, feature: quota.feature.id, amount: amount, usedAfter: used,
                    overagePriced: quota.overage != nil)
            }
        }
        guard let price = quota.overage, let cap = target.subject.spendCap else { return count(allowance: nil) }
        let others = otherOverageCounters(target)
        for (otherKey, otherQuota) in others {
            try await counters.ensureLoaded(otherKey, windowEnd: otherQuota.window?.end) {
                try await store.counterValue(otherKey)
            }
        }
        return cappedOverage.withLock { _ in
            count(allowance: Self.overageAllowance(price: price, cap: cap, others: others) { counters.value($0) ?? 0 })
        }
    }

    /// What a committed change writes: the counter delta and the idempotency record whose
    /// stored answer a retry replays.
    func usageEntry(
        key: CounterKey, quota: Quota, delta: Int64, scope: String, idempotencyKey: String, fingerprint: String,
        outcome: UsageOutcome,
        leaseNode: String?
    ) -> UsageEntry {
        let response = outcome.compactRecord ?? outcome.storedJSON
        let record = IdempotencyRecord(
            scope: scope, key: idempotencyKey, fingerprint: fingerprint, response: response, createdAt: clock.now())
        return UsageEntry(
            deltas: [counterDelta(key: key, quota: quota, delta: delta, leaseNode: leaseNode)], record: record)
    }

    /// The change to a counter, with its quota alerts when the feature has some and a limit.
    func counterDelta(key: CounterKey, quota: Quota, delta: Int64, leaseNode: String?) -> CounterDelta {
        let percents = quota.feature.alertPercents
        return CounterDelta(
            key: key, period: (quota.period ?? .lifetime).rawValue, periodEndMillis: quota.window?.end.map(Millis.from),
            delta: delta, leaseNode: leaseNode,
            alert: percents.isEmpty ? nil : quota.limit?.value.map { CounterAlert(limit: $0, percents: percents) })
    }
}
