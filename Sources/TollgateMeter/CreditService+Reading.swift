import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Balances and history, as the doors show them.
extension CreditService {
    public struct Balance: Sendable {
        public let creditType: String
        public let state: CreditState
        public let available: Int64
    }

    public func balances(customerId: String) async throws -> [Balance] {
        let (_, plan) = try await self.plan(of: customerId)
        for type in catalog.creditTypes { try await ensurePlanGrants(customerId: customerId, creditType: type) }
        let now = clock.now()
        let types = Set(catalog.creditTypes).union(try await store.creditTypes(subject: customerId)).sorted()
        var balances: [Balance] = []
        for type in types {
            let state = try await store.creditState(subject: customerId, creditType: type, now: now)
            let available = CreditLedger.available(
                grants: state.grants, overdrawn: state.overdrawn, overdraftLimit: plan.creditOverdraft,
                held: state.held, now: now)
            balances.append(Balance(creditType: type, state: state, available: available))
        }
        return balances
    }

    public func history(customerId: String, creditType requested: String?, before: Int64?, limit: Int) async throws
        -> [CreditHistoryEntry]
    {
        let type = try creditType(requested)
        try await ensurePlanGrants(customerId: customerId, creditType: type)
        return try await store.creditHistory(subject: customerId, creditType: type, before: before, limit: limit)
    }
}

/// Whether a closure ran: set inside the store's transaction, read after it in the same task.
final class DecidedFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}

/// A grant as the audit trail records it.
struct AuditedGrant: Encodable {
    let creditType: String
    let granted: Int64
    let balance: Int64
    let reason: String
}
