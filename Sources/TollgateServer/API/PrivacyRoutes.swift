import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// The GDPR's rights over one's data. `GET /v1/me/export`: what Tollgate holds about the
/// signed-in user, as one JSON document (access and portability): the account, its sessions,
/// workspaces and roles, subscriptions, usage since the account was made, credits and every
/// ledger line, invoices, the audit entries about them. `DELETE /v1/me`, and the operator's `DELETE /v1/customers/{id}/
/// personal-data`: erasure, keeping what the law keeps (invoices, the ledger).
struct PrivacyRoutes: Sendable {
    let accounts: AccountService
    let workspaces: WorkspaceService
    let meter: Meter
    let credits: CreditService
    let invoices: InvoiceService
    let store: any ReadModel
    let clock: any TollgateClock

    func register(on me: RouterGroup<UserContext>) {
        me.get("me/export", use: export)
        me.delete("me", use: eraseMe)
    }

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.customersWrite).delete("customers/{id}/personal-data", use: eraseCustomer)
    }

    struct Erased: ResponseEncodable {
        let customer: String
        let erased: Bool
    }

    @Sendable func eraseMe(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        try await accounts.erasePersonalData(customerId: context.user.userId, bySubject: true)
        meter.forget(customerId: context.user.userId)
        return EditedResponse(status: .ok, response: Erased(customer: context.user.userId, erased: true))
    }

    @Sendable func eraseCustomer(_ request: Request, context: AuthenticatedContext) async throws
        -> some ResponseGenerator
    {
        let id = try Validate.pathIdentifier(context)
        try await accounts.erasePersonalData(customerId: id, bySubject: false)
        meter.forget(customerId: id)
        return EditedResponse(status: .ok, response: Erased(customer: id, erased: true))
    }

    struct Export: ResponseEncodable {
        struct Membership: Encodable {
            let id: String
            let name: String
            let role: String
        }
        struct Credits: Encodable {
            let creditType: String
            let balance: Int64
            let ledger: [HistoryEntryResponse]
        }
        struct Invoice: Encodable {
            let id: String
            @NullEncoded var number: String?
            let status: String
            let currency: String
            let total: Int64
            let createdAt: Date
        }
        let exportedAt: Date
        let user: UserResponse
        let sessions: [SessionResponse]
        let workspaces: [Membership]
        let subscriptions: [SubscriptionResponse]
        let usage: [UsagePeriodResponse]
        let credits: [Credits]
        let invoices: [Invoice]
        let auditEvents: [AuditEventResponse]
    }

    @Sendable func export(_ request: Request, context: UserContext) async throws -> some ResponseGenerator {
        let userId = context.user.userId
        let user = try await accounts.user(id: userId)
        let now = clock.now()
        var ledgers: [Export.Credits] = []
        for balance in try await credits.balances(customerId: userId) {
            var lines: [CreditHistoryEntry] = []
            var before: Int64?
            repeat {
                let page = try await credits.history(
                    customerId: userId, creditType: balance.creditType, before: before, limit: 1000)
                lines += page
                before = page.count == 1000 ? page.last?.seq : nil
            } while before != nil
            ledgers.append(
                Export.Credits(
                    creditType: balance.creditType, balance: balance.state.balance,
                    ledger: lines.map(HistoryEntryResponse.init)))
        }
        var audit: [AuditEvent] = []
        var query = AuditQuery(limit: 1000)
        query.concerning = userId
        repeat {
            let page = try await store.auditEvents(query)
            audit += page
            query.before = page.count == query.limit ? page.last?.sequence : nil
        } while query.before != nil
        let usage = try await meter.usageHistory(customerId: userId, from: user.createdAt, to: now).map(
            UsagePeriodResponse.init)
        return EditedResponse(
            status: .ok,
            response: Export(
                exportedAt: now,
                user: UserResponse(
                    user, plan: context.user.claims.plan, customer: try await accounts.profile(userId: userId)),
                sessions: try await accounts.sessions(userId: userId).map {
                    SessionResponse($0, current: $0.id == context.user.sessionId)
                },
                workspaces: try await workspaces.list(userId: userId).map {
                    Export.Membership(id: $0.workspace.id, name: $0.workspace.name, role: $0.role.rawValue)
                },
                subscriptions: try await store.subscriptions(subject: userId).map {
                    SubscriptionResponse($0.0, provider: $0.provider)
                },
                usage: usage, credits: ledgers,
                invoices: try await invoices.invoices(subject: userId).map {
                    Export.Invoice(
                        id: $0.id, number: $0.number, status: $0.status.rawValue, currency: $0.currency.code,
                        total: $0.total, createdAt: $0.createdAt)
                },
                auditEvents: audit.map { AuditEventResponse($0).seen(bySubject: userId) }))
    }
}
