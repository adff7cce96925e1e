import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

extension SQLStore {
    /// Decides one consume against committed counters and applies it in the same transaction,
    /// with the customer's row locked so that every such decision about them is serialized, on
    /// every node. For decisions that span counters (a spend cap across features) where several
    /// nodes count. `decide` gets the committed values of `keys` (0 when never written) and
    /// returns its decision and, to apply `delta`, the answer to store under `claim`'s key.
    public func consumeSerialized<Decision: Sendable>(
        customerId: String, keys: [CounterKey], delta: CounterDelta, fact: UsageFact, claim: IdempotencyClaim,
        at date: Date,
        decide: @escaping @Sendable ([CounterKey: Int64]) throws -> (Decision, response: String?)
    ) async throws -> SerializedConsume<Decision> {
        let lock = provider.kind == .postgres ? " FOR UPDATE" : ""
        return try await provider.transaction { db in
            _ = try await db.raw("SELECT id FROM customers WHERE id = \(bind: customerId)\(unsafeRaw: lock)").first()
            var values: [CounterKey: Int64] = [:]
            for key in keys {
                let row = try await db.raw(
                    """
                    SELECT used FROM usage_counters
                    WHERE subject = \(bind: key.subject) AND feature = \(bind: key.feature)
                        AND period_start_ms = \(bind: key.periodStartMillis)
                    """
                ).first()
                values[key] = try row?.decode(column: "used", as: Int64.self) ?? 0
            }
            let (decision, response) = try decide(values)
            guard let response else { return .decided(decision) }
            let record = IdempotencyRecord(
                scope: claim.scope, key: claim.key, fingerprint: claim.fingerprint, response: response, createdAt: date)
            let stored = try await SQLKitUsageWriter.insertRecords([record], on: db)
            guard !stored.isEmpty else { return .alreadyAnswered }
            try await SQLKitUsageWriter.addToCounters([delta], updatedAt: Millis.from(date), on: db)
            let batch = UsageBatch(entries: [UsageEntry(deltas: [], record: nil, fact: fact)], at: date)
            try await SQLKitUsageWriter.appendFacts(UsageBatchPlan(batch).rollup(of: batch), on: db)
            return .decided(decision)
        }
    }
}
