import Foundation
import Synchronization
import TollgateCore
import TollgateStorage

/// Credits: grants (with expiry and priority), atomic debits that never overspend, reservations
/// for long jobs, and the credits a plan grants every period. Every movement is a balanced
/// ledger transaction; every mutation is idempotent.
public final class CreditService: Sendable {
    let catalog: Catalog
    let store: any CreditStore & CustomerStore & TransactionalStorage
    let clock: any TollgateClock
    /// Plan grants known to exist (their references never change once made), so each credit
    /// operation does not reopen a transaction to find them again.
    private let madePlanGrants = Mutex<Set<String>>([])

    public static let maximumAmount: Int64 = 1_000_000_000_000
    public static let maximumTTLSeconds: Int64 = 86_400

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    public init(
        catalog: Catalog, store: any CreditStore & CustomerStore & TransactionalStorage, clock: any TollgateClock
    ) {
        self.catalog = catalog
        self.store = store
        self.clock = clock
    }

    /// The answer to a credit mutation, stored for idempotent replay.
    public struct Movement: Codable, Sendable, Hashable {
        public var creditType: String
        public var amount: Int64
        public var balance: Int64
        public var available: Int64
        public var grant: String?
        public var reservation: String?
        public var reservationStatus: String?
        public var expiresAt: Date?
    }

    public func creditType(_ requested: String?) throws -> String {
        let type = requested ?? catalog.creditTypes.first ?? "credits"
        guard catalog.creditTypes.isEmpty || catalog.creditTypes.contains(type) else {
            throw DomainError.invalidField(
                "creditType",
                """
                catalog \(catalog.product) has no credit type \(type); it has \
                \(catalog.creditTypes.joined(separator: ", "))
                """
            )
        }
        return type
    }

    private func validate(_ amount: Int64, field: String = "amount") throws {
        guard (1...Self.maximumAmount).contains(amount) else {
            throw DomainError.invalidField(field, "must be a whole number from 1 to \(Self.maximumAmount)")
        }
    }

    func plan(of subjectId: String) async throws -> (CustomerRecord, Plan) {
        guard let customer = try await store.customer(id: subjectId) else {
            throw DomainError(.customerNotFound, "no customer with id \(subjectId)", field: "customer")
        }
        return (customer, catalog.plan(customer.planId) ?? catalog.defaultPlan)
    }

    /// Applies `decide` to the account; `audit` names the entry a movement made now is recorded
    /// with, in the movement's transaction (a repeated key moves nothing and records nothing).
    private func run(
        _ subjectId: String, _ type: String, key: String?, fingerprint: String, now: Date,
        audit: (@Sendable (Movement) -> AuditChange)? = nil,
        _ decide: @escaping @Sendable (CreditState) throws -> CreditChange
    ) async throws -> Movement {
        let claim = key.map { IdempotencyClaim(scope: "credits:\(subjectId)", key: $0, fingerprint: fingerprint) }
        do {
            return try await store.transaction { tx in
                let decided = DecidedFlag()
                let response = try await tx.withCreditAccount(
                    subject: subjectId, creditType: type, claim: claim, now: now
                ) { state in
                    decided.set()
                    return try decide(state)
                }
                let movement = try Self.decoder.decode(Movement.self, from: Data(response.utf8))
                if let audit {
                    let change = audit(movement)
                    try await Audit.record(decided.isSet ? change : .unchanged(change.action), in: tx)
                }
                return movement
            }
        } catch CreditStoreError.idempotencyKeyReused {
            throw DomainError(
                .idempotencyKeyReused, "idempotency key \(key ?? "") was already used for a different request",
                field: "idempotencyKey")
        }
    }

    private static func encode(_ movement: Movement) throws -> String {
        String(decoding: try encoder.encode(movement), as: UTF8.self)
    }

    // MARK: Grants

    public func grant(
        customerId: String, amount: Int64, creditType requested: String?, expiresAt: Date?, priority: Int,
        reason: CreditReason, reference: String?, idempotencyKey: String
    ) async throws -> Movement {
        try validate(amount)
        let type = try creditType(requested)
        _ = try await plan(of: customerId)
        let now = clock.now()
        if let expiresAt, expiresAt <= now { throw DomainError.invalidField("expiresAt", "must be in the future") }
        try await ensurePlanGrants(customerId: customerId, creditType: type)
        let grantId = "grant_" + UUID().uuidString.lowercased().prefix(20)
        let fingerprint =
            "grant|\(type)|\(amount)|\(expiresAt.map(Millis.from) ?? 0)"
            + "|\(priority)|\(reason.rawValue)|\(reference ?? "")"
        let audit: @Sendable (Movement) -> AuditChange = { movement in
            AuditChange(
                "credits.granted", target: "customer:\(customerId)", before: ["balance": movement.balance - amount],
                after: AuditedGrant(
                    creditType: type, granted: amount, balance: movement.balance, reason: reason.rawValue))
        }
        return try await run(customerId, type, key: idempotencyKey, fingerprint: fingerprint, now: now, audit: audit) {
            state in
            let lines = CreditLedger.grant(amount, grantId: String(grantId), overdrawn: state.overdrawn, reason: reason)
            var change = CreditChange(response: "")
            change.grants = [
                NewGrant(
                    id: String(grantId), amount: amount, priority: priority, expiresAt: expiresAt, reason: reason,
                    reference: reference)
            ]
            change.transactions = [LedgerTransaction(reason: reason, reference: reference, lines: lines, at: now)]
            let balance = state.balance + amount
            let available = Self.available(after: state, adding: amount, overdraftLimit: 0, now: now)
            change.response = try Self.encode(
                Movement(
                    creditType: type, amount: amount, balance: balance, available: available, grant: String(grantId)))
            return change
        }
    }

    /// The credits the customer's plan grants every period, made once per period (lazily, on the
    /// first credit operation of the period). Without rollover they expire with the period.
    public func ensurePlanGrants(customerId: String, creditType type: String) async throws {
        let (customer, plan) = try await plan(of: customerId)
        let now = clock.now()
        for (index, rule) in plan.creditGrants.enumerated() where rule.creditType == type {
            let window = PeriodMath.window(rule.period, containing: now, anchor: customer.billingAnchor)
            let reference = "plan:\(plan.id):\(index):\(Millis.from(window.start))"
            let known = "\(customerId)|\(reference)"
            if madePlanGrants.withLock({ $0.contains(known) }) { continue }
            let expiresAt = rule.rollover ? nil : window.end
            let reason: CreditReason = rule.period == .lifetime ? .starterPack : .planGrant
            let grantId = "grant_" + UUID().uuidString.lowercased().prefix(20)
            _ = try await run(customerId, type, key: reference, fingerprint: reference, now: now) { state in
                var change = CreditChange(response: "")
                change.grants = [
                    NewGrant(
                        id: String(grantId), amount: rule.amount, priority: 0, expiresAt: expiresAt, reason: reason,
                        reference: reference)
                ]
                change.transactions = [
                    LedgerTransaction(
                        reason: reason, reference: reference,
                        lines: CreditLedger.grant(
                            rule.amount, grantId: String(grantId), overdrawn: state.overdrawn, reason: reason), at: now
                    )
                ]
                change.response = try Self.encode(
                    Movement(
                        creditType: type, amount: rule.amount, balance: state.balance + rule.amount, available: 0,
                        grant: String(grantId)))
                return change
            }
            madePlanGrants.withLock { _ = $0.insert(known) }
        }
    }

    // MARK: Debits and reservations

    /// Takes `amount` now, or refuses with INSUFFICIENT_CREDITS (nothing taken).
    public func debit(
        customerId: String, amount: Int64, creditType requested: String?, reason: CreditReason = .consumption,
        reference: String?, idempotencyKey: String
    ) async throws -> Movement {
        try validate(amount)
        let type = try creditType(requested)
        let (_, plan) = try await plan(of: customerId)
        try await ensurePlanGrants(customerId: customerId, creditType: type)
        let now = clock.now()
        let fingerprint = "debit|\(type)|\(amount)|\(reason.rawValue)|\(reference ?? "")"
        let lowBalance = catalog.creditLowBalance[type]
        return try await run(customerId, type, key: idempotencyKey, fingerprint: fingerprint, now: now) { state in
            let lines = try Self.debitLines(
                amount, state: state, overdraftLimit: plan.creditOverdraft, now: now, reason: reason)
            var change = CreditChange(response: "")
            change.transactions = [LedgerTransaction(reason: reason, reference: reference, lines: lines, at: now)]
            let available = Self.available(
                after: state, adding: -amount, overdraftLimit: plan.creditOverdraft, now: now)
            change.response = try Self.encode(
                Movement(creditType: type, amount: amount, balance: state.balance - amount, available: available))
            change.outbox = try Self.lowBalanceEvents(state, taking: amount, threshold: lowBalance, now: now)
            return change
        }
    }

    /// `credits.low` when this change takes the balance from above the catalog's threshold to at
    /// or below it. Decided under the account's lock, so each crossing is told once; a top-up
    /// and a new crossing are told again.
    static func lowBalanceEvents(_ state: CreditState, taking amount: Int64, threshold: Int64?, now: Date) throws
        -> [OutboxMessage]
    {
        guard let threshold, amount > 0,
            state.balance > threshold, state.balance - amount <= threshold
        else { return [] }
        return [
            try OutboxEvent.message(
                id: OutboxEvent.uniqueId(),
                type: "credits.low", subject: Subject.customer(state.subject),
                data: CreditsLowEventData(
                    customerId: state.subject, creditType: state.creditType, balance: state.balance - amount,
                    threshold: threshold, version: Millis.from(now)),
                at: now)
        ]
    }

    /// Holds `amount` for a job until committed, released, or `ttl` passes.
    public func reserve(
        customerId: String, amount: Int64, creditType requested: String?, ttlSeconds: Int64, idempotencyKey: String
    ) async throws -> Movement {
        try validate(amount)
        guard (1...Self.maximumTTLSeconds).contains(ttlSeconds) else {
            throw DomainError.invalidField("ttlSeconds", "must be from 1 to \(Self.maximumTTLSeconds)")
        }
        let type = try creditType(requested)
        let (_, plan) = try await plan(of: customerId)
        try await ensurePlanGrants(customerId: customerId, creditType: type)
        let now = clock.now()
        let id = "res_" + UUID().uuidString.lowercased().prefix(20)
        let expiresAt = now + TimeInterval(ttlSeconds)
        return try await run(
            customerId, type, key: idempotencyKey, fingerprint: "reserve|\(type)|\(amount)|\(ttlSeconds)", now: now
        ) { state in
            let available = CreditLedger.available(
                grants: state.grants, overdrawn: state.overdrawn, overdraftLimit: plan.creditOverdraft,
                held: state.held, now: now)
            guard amount <= available else {
                throw DomainError(
                    .insufficientCredits, "\(amount) \(type) needed, \(max(0, available)) available", field: "amount")
            }
            var change = CreditChange(response: "")
            change.newReservations = [
                ReservationRecord(
                    id: String(id), subject: customerId, creditType: type, amount: amount, status: .held,
                    committedAmount: nil, expiresAt: expiresAt, createdAt: now
                )
            ]
            change.response = try Self.encode(
                Movement(
                    creditType: type, amount: amount, balance: state.balance, available: available - amount,
                    reservation: String(id), reservationStatus: "held", expiresAt: expiresAt
                ))
            return change
        }
    }

    /// Takes the actual cost (at most what was held) and frees the rest.
    public func commit(reservationId: String, amount: Int64) async throws -> Movement {
        guard amount >= 0 else { throw DomainError.invalidField("amount", "must not be negative") }
        let reservation = try await heldReservation(reservationId)
        guard amount <= reservation.amount else {
            throw DomainError.invalidField("amount", "\(amount) is more than the \(reservation.amount) held")
        }
        let (_, plan) = try await plan(of: reservation.subject)
        let now = clock.now()
        let lowBalance = catalog.creditLowBalance[reservation.creditType]
        return try await run(
            reservation.subject, reservation.creditType, key: "commit:\(reservationId)",
            fingerprint: "commit|\(amount)", now: now
        ) { state in
            guard var hold = state.holds.first(where: { $0.id == reservationId }) else {
                throw DomainError(
                    .reservationNotFound, "reservation \(reservationId) was released or has expired",
                    field: "reservation")
            }
            // The hold being committed no longer blocks its own credits.
            let others = CreditState(
                subject: state.subject, creditType: state.creditType, grants: state.grants, overdrawn: state.overdrawn,
                holds: state.holds.filter { $0.id != reservationId }, balance: state.balance)
            var change = CreditChange(response: "")
            if amount > 0 {
                let lines = try Self.debitLines(
                    amount, state: others, overdraftLimit: plan.creditOverdraft, now: now, reason: .consumption)
                change.transactions = [
                    LedgerTransaction(reason: .consumption, reference: reservationId, lines: lines, at: now)
                ]
            }
            hold.status = .committed
            hold.committedAmount = amount
            change.settledReservations = [hold]
            let available = Self.available(
                after: others, adding: -amount, overdraftLimit: plan.creditOverdraft, now: now)
            change.response = try Self.encode(
                Movement(
                    creditType: hold.creditType, amount: amount, balance: state.balance - amount, available: available,
                    reservation: reservationId, reservationStatus: "committed"
                ))
            change.outbox = try Self.lowBalanceEvents(state, taking: amount, threshold: lowBalance, now: now)
            return change
        }
    }

    /// Frees everything held (the job failed).
    public func release(reservationId: String) async throws -> Movement {
        let reservation = try await heldReservation(reservationId)
        let (_, plan) = try await plan(of: reservation.subject)
        let now = clock.now()
        return try await run(
            reservation.subject, reservation.creditType, key: "release:\(reservationId)", fingerprint: "release",
            now: now
        ) { state in
            guard var hold = state.holds.first(where: { $0.id == reservationId }) else {
                throw DomainError(
                    .reservationNotFound, "reservation \(reservationId) was committed, released or has expired",
                    field: "reservation")
            }
            hold.status = .released
            var change = CreditChange(response: "")
            change.settledReservations = [hold]
            let available = CreditLedger.available(
                grants: state.grants, overdrawn: state.overdrawn, overdraftLimit: plan.creditOverdraft,
                held: state.held - hold.amount, now: now)
            change.response = try Self.encode(
                Movement(
                    creditType: hold.creditType, amount: 0, balance: state.balance, available: available,
                    reservation: reservationId, reservationStatus: "released"
                ))
            return change
        }
    }

    private func heldReservation(_ id: String) async throws -> ReservationRecord {
        guard let reservation = try await store.reservation(id: id) else {
            throw DomainError(.reservationNotFound, "no reservation \(id)", field: "reservation")
        }
        return reservation
    }

    private static func debitLines(
        _ amount: Int64, state: CreditState, overdraftLimit: Int64, now: Date, reason: CreditReason
    ) throws -> [LedgerLine] {
        do {
            return try CreditLedger.debit(
                amount, grants: state.grants, overdrawn: state.overdrawn, overdraftLimit: overdraftLimit,
                held: state.held, now: now, reason: reason)
        } catch .insufficient(let available) {
            throw DomainError(
                .insufficientCredits, "\(amount) \(state.creditType) needed, \(available) available", field: "amount")
        }
    }

    private static func available(after state: CreditState, adding delta: Int64, overdraftLimit: Int64, now: Date)
        -> Int64
    {
        CreditLedger.available(
            grants: state.grants, overdrawn: state.overdrawn, overdraftLimit: overdraftLimit, held: state.held, now: now
        ) + delta
    }
}
