import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// Credits for the product's backend: grants, balances, history (JSON or CSV), debits and
/// reservations for long jobs.
struct CreditRoutes: Sendable {
    let credits: CreditService
    let billing: Billing

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.billingWrite)
            .post("customers/{id}/credits/grants", use: grant)
            .post("credits/packs/checkout", use: buyPack)
        v1.requiring(.entitlementsRead)
            .get("customers/{id}/credits", use: balances)
            .get("customers/{id}/credits/history", use: history)
            .get("customers/{id}/credits/history.csv", use: historyCSV)
        v1.requiring(.usageWrite)
            .post("credits/debit", use: debit)
            .post("credits/reserve", use: reserve)
            .post("credits/reservations/{id}/commit", use: commit)
            .post("credits/reservations/{id}/release", use: release)
    }

    struct PackCheckoutRequest: Decodable {
        let customer: String
        let pack: String
        let currency: String?
        let successUrl: String
        let cancelUrl: String
        let idempotencyKey: String
    }

    /// A Stripe Checkout (payment mode) for a credit pack; the credits come with its webhook.
    @Sendable func buyPack(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: PackCheckoutRequest.self, context: context)
        guard let currency = Currency(body.currency ?? "EUR") else {
            throw DomainError.invalidField("currency", "not an ISO 4217 currency code")
        }
        let order = PackOrder(
            customer: try Validate.identifier(body.customer, field: "customer"),
            packId: try Validate.identifier(body.pack, field: "pack"), currency: currency,
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey"))
        let pages = ReturnPages(
            success: try BillingRoutes.url(body.successUrl, field: "successUrl"),
            cancel: try BillingRoutes.url(body.cancelUrl, field: "cancelUrl"))
        let sale = try await billing.sellCreditPack(order, via: .stripe, returnTo: pages)
        return EditedResponse(status: .created, response: try BillingRoutes.URLResponse(sale))
    }

    struct GrantRequest: Decodable {
        let amount: WholeNumber
        let creditType: String?
        let expiresAt: Date?
        let priority: WholeNumber?
        let reason: String
        let reference: String?
        let idempotencyKey: String
    }

    struct DebitRequest: Decodable {
        let customer: String
        let amount: WholeNumber
        let creditType: String?
        let reference: String?
        let idempotencyKey: String
    }

    struct ReserveRequest: Decodable {
        let customer: String
        let amount: WholeNumber
        let creditType: String?
        let ttlSeconds: WholeNumber?
        let idempotencyKey: String
    }

    struct CommitRequest: Decodable { let amount: WholeNumber }

    /// Reasons an operator or product may give a grant; consumption and expiry are Tollgate's own.
    static let grantReasons: [CreditReason] = [.purchase, .grant, .starterPack, .refund, .adjustment]

    @Sendable func grant(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: GrantRequest.self, context: context)
        guard let reason = CreditReason(rawValue: body.reason), Self.grantReasons.contains(reason) else {
            throw DomainError.invalidField(
                "reason", "expected one of \(Self.grantReasons.map(\.rawValue).joined(separator: ", "))")
        }
        let priority = body.priority?.value ?? 0
        guard (-1000...1000).contains(priority) else {
            throw DomainError.invalidField("priority", "must be from -1000 to 1000")
        }
        // A retried grant makes no second entry, whichever door writes it.
        context.audit.once(body.idempotencyKey)
        let movement = try await credits.grant(
            customerId: id, amount: body.amount.value,
            creditType: try Validate.optionalIdentifier(body.creditType, field: "creditType"),
            expiresAt: body.expiresAt,
            priority: Int(priority),
            reason: reason, reference: try Validate.optionalText(body.reference, field: "reference", maximum: 255),
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        )
        return EditedResponse(status: .created, response: movement)
    }

    @Sendable func balances(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let balances = try await credits.balances(customerId: id)
        return EditedResponse(
            status: .ok, response: BalancesResponse(customer: id, balances: balances.map(BalanceResponse.init)))
    }

    private func page(_ request: Request, context: AuthenticatedContext) async throws -> (
        String, [CreditHistoryEntry], Int
    ) {
        let id = try Validate.pathIdentifier(context)
        let query = request.uri.queryParameters
        let limit =
            try query.get("limit").map { raw -> Int in
                guard let value = Int(raw), (1...1000).contains(value) else {
                    throw HTTPOnlyError(.invalidQuery, "limit: from 1 to 1000", field: "limit")
                }
                return value
            } ?? 100
        let cursor = try query.get("cursor").map { raw -> Int64 in
            guard let value = Int64(raw), value > 0 else {
                throw HTTPOnlyError(.invalidQuery, "cursor: the nextCursor of a previous page", field: "cursor")
            }
            return value
        }
        let entries = try await credits.history(
            customerId: id,
            creditType: try Validate.optionalIdentifier(query.get("creditType"), field: "creditType"),
            before: cursor, limit: limit)
        return (id, entries, limit)
    }

    @Sendable func history(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let (id, entries, limit) = try await page(request, context: context)
        let next = entries.count == limit ? entries.last.map { String($0.seq) } : nil
        return EditedResponse(
            status: .ok,
            response: HistoryResponse(customer: id, data: entries.map(HistoryEntryResponse.init), nextCursor: next))
    }

    @Sendable func historyCSV(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator
    {
        let (_, entries, _) = try await page(request, context: context)
        let formatter = ISO8601DateFormatter()
        var csv = CSVWriter(header: ["seq", "at", "reason", "reference", "delta", "balance_after", "id"])
        for entry in entries {
            csv.append([
                .number(entry.seq), .text(formatter.string(from: entry.at)), .text(entry.reason),
                .text(entry.reference ?? ""),
                .number(entry.delta), .number(entry.balanceAfter), .text(entry.id),
            ])
        }
        return TextAnswer.csv(csv, filename: "credits.csv")
    }

    @Sendable func debit(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: DebitRequest.self, context: context)
        let movement = try await credits.debit(
            customerId: try Validate.identifier(body.customer, field: "customer"), amount: body.amount.value,
            creditType: try Validate.optionalIdentifier(body.creditType, field: "creditType"),
            reference: try Validate.optionalText(body.reference, field: "reference", maximum: 255),
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        )
        return EditedResponse(status: .ok, response: movement)
    }

    @Sendable func reserve(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: ReserveRequest.self, context: context)
        let movement = try await credits.reserve(
            customerId: try Validate.identifier(body.customer, field: "customer"), amount: body.amount.value,
            creditType: try Validate.optionalIdentifier(body.creditType, field: "creditType"),
            ttlSeconds: body.ttlSeconds?.value ?? 300,
            idempotencyKey: try Validate.identifier(body.idempotencyKey, field: "idempotencyKey")
        )
        return EditedResponse(status: .created, response: movement)
    }

    @Sendable func commit(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        let body = try await request.decode(as: CommitRequest.self, context: context)
        return EditedResponse(
            status: .ok, response: try await credits.commit(reservationId: id, amount: body.amount.value))
    }

    @Sendable func release(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let id = try Validate.pathIdentifier(context)
        return EditedResponse(status: .ok, response: try await credits.release(reservationId: id))
    }
}

struct GrantResponse: Encodable {
    let id: String
    let amount: Int64
    let remaining: Int64
    let priority: Int
    @NullEncoded var expiresAt: Date?
    let createdAt: Date

    init(_ grant: CreditGrant) {
        id = grant.id
        amount = grant.amount
        remaining = grant.remaining
        priority = grant.priority
        expiresAt = grant.expiresAt
        createdAt = grant.createdAt
    }
}

struct BalanceResponse: Encodable {
    let creditType: String
    let balance: Int64
    let available: Int64
    let held: Int64
    let overdrawn: Int64
    let grants: [GrantResponse]

    init(_ balance: CreditService.Balance) {
        creditType = balance.creditType
        self.balance = balance.state.balance
        available = balance.available
        held = balance.state.held
        overdrawn = balance.state.overdrawn
        grants = CreditLedger.drawOrder(balance.state.grants).map(GrantResponse.init)
    }
}

struct BalancesResponse: Encodable {
    let customer: String
    let balances: [BalanceResponse]
}

struct HistoryEntryResponse: Encodable {
    let id: String
    let seq: Int64
    let at: Date
    let reason: String
    @NullEncoded var reference: String?
    let delta: Int64
    let balanceAfter: Int64

    init(_ entry: CreditHistoryEntry) {
        id = entry.id
        seq = entry.seq
        at = entry.at
        reason = entry.reason
        reference = entry.reference
        delta = entry.delta
        balanceAfter = entry.balanceAfter
    }
}

struct HistoryResponse: Encodable {
    let customer: String
    let data: [HistoryEntryResponse]
    @NullEncoded var nextCursor: String?
}
