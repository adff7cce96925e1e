import Foundation
import TollgateCore

/// What the front doors (API handlers, console and portal pages) read straight from storage to
/// answer a query or draw a page. Nothing in it changes anything: a door changes state only
/// through a service, and holds storage only as this (`DoorBoundaryTests` keeps it so).
public protocol ReadModel: Sendable {
    func customer(id: String) async throws -> CustomerRecord?
    func customerStatus(id: String) async throws -> CustomerStatus?
    func customerHistory(id: String, limit: Int) async throws -> [(at: Date, planId: String, status: String)]
    func customerCountsByStatus() async throws -> [CustomerStatus: Int]
    func customersAtLimit(_ quotas: [CustomerQuery.Quota], now: Date) async throws -> [CustomerQuery.Quota: Int]
    func listCustomers(_ query: CustomerQuery) async throws -> [CustomerListing]
    func recentRefusals(customerId: String, limit: Int) async throws
        -> [(day: Date, feature: String, reason: String, count: Int64)]
    func signUpCounts(edges: [Date]) async throws -> [Int]
    func catalogReferences() async throws -> CatalogReferences

    func subscriptions(subject: String) async throws -> [(Subscription, provider: String)]
    func revenueDays(currency: Currency, before: Date) async throws -> [RevenueSeries.DayTotal]
    func trialDays(currency: Currency, before: Date) async throws -> [RevenueSeries.TrialDay]

    func usageFigures(from: Date, to: Date) async throws -> [UsageReport.Figures]
    func upgradeConversions(from: Date, to: Date, ladder: [String: Int]) async throws -> [UsageReport.Conversion]
    func activeDays(from: Date, to: Date) async throws -> [ActiveDay]
    func adoption(from: Date, to: Date) async throws -> [AdoptionCount]
    func customerStates(before: Date) async throws -> [CustomerSeries.State]
    func signUps(before: Date) async throws -> [(customerId: String, at: Date)]

    func user(id: String) async throws -> UserRecord?
    func workspace(id: String) async throws -> WorkspaceRecord?
    func workspaces(userId: String) async throws -> [(WorkspaceRecord, WorkspaceRole)]
    func members(workspaceId: String) async throws -> [MemberRecord]
    func operatorAccount(id: String) async throws -> OperatorRecord?
    func operatorAccounts() async throws -> [OperatorRecord]
    func apiKey(id: String) async throws -> APIKeyRecord?

    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    func deliveries(_ query: DeliveryQuery) async throws -> [OutboxEntry]
    func webhookMessages(endpointId: String, limit: Int) async throws -> [OutboxEntry]
    func webhookAttempts(messageId: String) async throws -> [WebhookAttemptRecord]
}
