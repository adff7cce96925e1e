import Foundation
import Hummingbird
import TollgateAnalytics
import TollgateBilling
import TollgateCore
import TollgateDocuments
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateStorage
import TollgateWeb

/// The console's pages once signed in. Every action goes through the services the API uses,
/// and is recorded with its before and after (the audit trail).
struct ConsolePages: Sendable {
    let store: any ReadModel
    let reports: AnalyticsReports
    let catalog: Catalog
    let clock: any TollgateClock
    let meter: Meter
    let subscriptions: SubscriptionService
    let invoices: InvoiceService
    let credits: CreditService
    let operators: OperatorService
    let apiKeys: APIKeyService
    let settings: ConsoleSettings
    let documents: DocumentRenderer
    let webhookEndpoints: WebhookEndpointService
    let deliveries: DeliveryService
    let billing: Billing

    func register(on console: RouterGroup<ConsoleContext>) {
        console.requiring(.read)
            .get(use: overview)
            .get("customers", use: customers)
            .get("customers/{id}", use: customer)
            .get("usage", use: usage)
            .get("catalog", use: catalogPage)
            .get("deliveries", use: deliveries)
            .get("api-keys", use: apiKeys)
            .get("operators", use: operatorList)
            .get("invoices/{id}.pdf", use: invoicePDF)
        console.requiring(.viewAudit).get("audit", use: audit)
        console.requiring(.changePlan)
            .post("customers/{id}/plan", use: changePlan)
            .post("customers/{id}/trial-start", use: startTrial)
            .post("customers/{id}/subscription-plan", use: changeSubscriptionPlan)
        console.requiring(.manageInvoices).post("customers/{id}/credit-packs", use: sellCreditPack)
        console.requiring(.grantCredits).post("customers/{id}/credits", use: grantCredits)
        console.requiring(.extendTrial).post("customers/{id}/trial", use: extendTrial)
        console.requiring(.setSpendCap).post("customers/{id}/spend-cap", use: setSpendCap)
        console.requiring(.cancelSubscription).post("customers/{id}/cancel", use: cancel)
        console.requiring(.retryDelivery).post("deliveries/{id}/retry", use: retryDelivery)
        console.requiring(.manageWebhooks)
            .get("webhooks", use: webhooks)
            .post("webhooks", use: createWebhook)
            .post("webhooks/{id}/enable") { try await changeWebhook(enabled: true, $0, $1) }
            .post("webhooks/{id}/disable") { try await changeWebhook(enabled: false, $0, $1) }
            .post("webhooks/{id}/rotate-secret", use: rotateWebhookSecret)
            .post("webhooks/{id}/delete", use: deleteWebhook)
        console.requiring(.manageInvoices)
            .post("invoices/{id}/finalize") { try await invoiceAction(.finalize, $0, $1) }
            .post("invoices/{id}/pay") { try await invoiceAction(.pay, $0, $1) }
            .post("invoices/{id}/void") { try await invoiceAction(.void, $0, $1) }
            .post("invoices/{id}/credit-notes", use: issueCreditNote)
        console.requiring(.manageAPIKeys)
            .post("api-keys", use: createAPIKey)
            .post("api-keys/{id}/revoke", use: revokeAPIKey)
            .post("api-keys/{id}/rotate", use: rotateAPIKey)
        console.requiring(.manageOperators)
            .post("operators", use: inviteOperator)
            .post("operators/{id}/role", use: changeOperatorRole)
            .post("operators/{id}/remove", use: removeOperator)
    }

    func frame(_ request: Request, _ context: ConsoleContext, _ section: String) -> ConsoleFrame {
        ConsoleRequest.frame(request, signedIn: context.signedIn, settings: settings, section: section)
    }

    /// Tells the audit trail what an operator's form changed (the audit middleware writes it).
    /// `once`: what makes the action unique when a form may be sent twice (its idempotency key).
    func record(
        _ context: ConsoleContext, target: String, before: (any Encodable)?, after: (any Encodable)?,
        once: String? = nil
    ) {
        context.audit.change(target: target, before: before, after: after)
        if let once { context.audit.once(once) }
    }

    // MARK: Overview

    var currencies: [Currency] {
        let priced = catalog.planCurrencies
        return priced.isEmpty ? [Currency("EUR")!] : priced
    }

    @Sendable func overview(_ request: Request, context: ConsoleContext) async throws -> Response {
        let currencies = currencies
        let currency = catalog.planCurrency(request.uri.queryParameters.get("currency")) ?? currencies[0]
        let now = clock.now()
        let thisMonth = PeriodMath.window(.monthly, containing: now, anchor: now)
        let from = PeriodMath.utcCalendar.date(byAdding: .month, value: -11, to: thisMonth.start)!
        let to = thisMonth.end!
        let edges = RevenueSeries.boundaries(from: from, to: to, interval: .month) + [to]
        async let series = reports.revenue(currency: currency, from: from, to: to, interval: .month)
        async let signUpCounts = store.signUpCounts(edges: edges)
        async let statuses = store.customerCountsByStatus()
        let periods = try await series
        let signUps = try await signUpCounts
        let months = periods.enumerated().map { index, period in
            OverviewData.Month(
                start: period.start, mrr: period.mrrEnd, payingCustomers: period.payingCustomers,
                signUps: index < signUps.count ? signUps[index] : 0, netMrrChurnRate: period.netMrrChurnRate,
                trialConversionRate: period.trialConversionRate)
        }
        let data = OverviewData(
            currency: currency, months: months, customersByStatus: try await statuses,
            movements: periods.last?.movements ?? [:])
        return ConsoleRequest.html(
            frame(request, context, "overview").overviewPage(data, currencies: currencies), request: request)
    }

    // MARK: Customers

    @Sendable func customers(_ request: Request, context: ConsoleContext) async throws -> Response {
        let query = try CustomerListQuery.parse(request, catalog: catalog, now: clock.now())
        let rows = try await store.listCustomers(query)
        let next = CustomerListQuery.nextCursor(rows, query: query).map { cursor in
            "/console/customers"
                + Paths.query([
                    ("query", query.text), ("plan", query.planId), ("status", query.status?.rawValue),
                    ("nearLimit", query.nearLimit ? "true" : nil), ("sort", query.sort.rawValue), ("cursor", cursor),
                ])
        }
        let data = CustomerListData(
            rows: rows.map {
                var row = CustomerListData.Row(
                    id: $0.customer.id, email: $0.customer.email, name: $0.customer.name,
                    planName: catalog.plan($0.customer.planId)?.name ?? $0.customer.planId, status: $0.status,
                    createdAt: $0.customer.createdAt)
                row.planIsFree = catalog.plan($0.customer.planId)?.isFree ?? true
                return row
            }, query: query.text ?? "", plan: query.planId, status: query.status, nearLimit: query.nearLimit,
            sort: query.sort.rawValue, plans: catalog.plans.map { ($0.id, $0.name) }, nextPage: next)
        return ConsoleRequest.html(frame(request, context, "customers").customersPage(data), request: request)
    }

    @Sendable func customer(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let frame = frame(request, context, "customers")
        let data = try await customerData(id, language: frame.locale)
        let notice = frame.notice(request.uri.queryParameters.get("notice"))
        return ConsoleRequest.html(frame.customerPage(data, notice: notice), request: request)
    }

    /// An invoice's PDF, as the API renders it.
    @Sendable func invoicePDF(_ request: Request, context: ConsoleContext) async throws -> Response {
        let invoice = try await invoices.invoice(id: try Validate.pathIdentifier(context))
        try InvoiceService.requireOwn(invoice)
        return TextAnswer.pdf(try await documents.pdf(invoice), filename: "\(invoice.number ?? invoice.id).pdf")
    }

    /// Everything the customer page shows, read concurrently (each part is its own query).
    func customerData(_ id: String, language: String) async throws -> CustomerDetailData {
        let customer = try await meter.customers.customer(id: id)
        async let status = store.customerStatus(id: id)
        async let entitlements = meter.entitlements(customerId: id)
        async let subscriptions = store.subscriptions(subject: id)
        async let history = store.customerHistory(id: id, limit: 50)
        async let credit = creditRows(id)
        async let invoiceList = invoices.invoices(subject: id)
        async let refusals = store.recentRefusals(customerId: id, limit: 20)
        async let workspaces = workspaceRows(id)
        async let billing = invoices.billingDetails(customer: id)
        async let extensions = trialExtensions(id)
        let planName = { (planId: String) in self.catalog.plan(planId)?.name ?? planId }
        var data = CustomerDetailData(
            id: customer.id, email: customer.email, name: customer.name, planId: customer.planId,
            planName: planName(customer.planId), status: try await status ?? .free, createdAt: customer.createdAt,
            spendCap: customer.spendCap, formKey: Secrets.randomId(prefix: "form_"))
        data.planIsFree = catalog.plan(customer.planId)?.isFree ?? true
        data.usage = CustomerDetailData.UsageRow.meters(try await entitlements, language: language)
        data.subscriptions = try await subscriptions.map { subscription, provider in
            CustomerDetailData.SubscriptionRow(
                subscription, provider: provider, planName: planName(subscription.planId), catalog: catalog)
        }
        data.history = try await history.map {
            CustomerDetailData.HistoryRow(at: $0.at, planName: planName($0.planId), status: $0.status)
        }
        data.history = (data.history + (try await extensions)).sorted { $0.at > $1.at }
        (data.balances, data.ledger) = try await credit
        data.invoices = try await invoiceList.suffix(20).reversed().map(CustomerDetailData.InvoiceRow.init)
        data.refusals = try await refusals.map {
            CustomerDetailData.RefusalRow(
                day: $0.day, feature: catalog.feature($0.feature)?.name(in: language) ?? $0.feature,
                reason: $0.reason, count: $0.count)
        }
        data.workspaces = try await workspaces
        data.billing = try await billing.map(CustomerDetailData.BillingParty.init)
        data.plans = catalog.plans.map { ($0.id, $0.name) }
        if let live = try await subscriptions.last(where: { $0.0.isLive })?.0 {
            data.subscriptionPlans = catalog.plans.filter { plan in
                !plan.isFree && plan.id != live.planId
                    && plan.prices.contains { $0.currency == live.currency && $0.interval == live.interval }
            }.map { ($0.id, $0.name) }
        }
        data.trialPlans = try await self.billing.trialsOffered(to: id).map { ($0.id, $0.name) }
        data.creditPacks = try await self.billing.creditPacksOffered(to: id).map {
            ($0.pack.id, $0.pack.name, $0.price.money)
        }
        data.creditTypes = catalog.creditTypes.isEmpty ? ["credits"] : catalog.creditTypes
        data.currencies = currencies
        return data
    }

    /// The trials an operator extended, from the audit trail (the subscription keeps only the
    /// latest end): when, to which day, and by whom. Entries are the customer's; those written
    /// before the subscription service recorded them name the subscription, with its end only.
    private func trialExtensions(_ id: String) async throws -> [CustomerDetailData.HistoryRow] {
        struct After: Decodable {
            let plan: String?
            let trialEnd: Date?
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var sources: [(target: String, plan: String?)] = [("customer:\(id)", nil)]
        for (subscription, _) in try await store.subscriptions(subject: id) {
            sources.append(("subscription:\(subscription.id)", subscription.planId))
        }
        var rows: [CustomerDetailData.HistoryRow] = []
        for source in sources {
            var query = AuditQuery(limit: 20)
            query.target = source.target
            query.action = "subscription.trial_extended"
            for event in try await store.auditEvents(query) {
                let after = event.draft.after.flatMap { try? decoder.decode(After.self, from: Data($0.utf8)) }
                let plan = after?.plan ?? source.plan ?? ""
                var row = CustomerDetailData.HistoryRow(
                    at: event.draft.at, planName: catalog.plan(plan)?.name ?? plan, status: "trial_extended")
                row.until = after?.trialEnd
                rows.append(row)
            }
        }
        return rows
    }

    /// Balances per credit type, and the last twenty ledger lines of each, newest first.
    private func creditRows(_ id: String) async throws -> (
        [(creditType: String, balance: Int64, available: Int64)], [CustomerDetailData.LedgerRow]
    ) {
        let balances = try await credits.balances(customerId: id)
        var ledger: [CustomerDetailData.LedgerRow] = []
        for balance in balances {
            ledger += try await credits.history(customerId: id, creditType: balance.creditType, before: nil, limit: 20)
                .map {
                    CustomerDetailData.LedgerRow(
                        at: $0.at, creditType: balance.creditType, amount: $0.delta, reason: $0.reason)
                }
        }
        return (
            balances.map { (creditType: $0.creditType, balance: $0.state.balance, available: $0.available) },
            ledger.sorted { $0.at > $1.at }
        )
    }

    /// The workspace the customer is (its pool), and those its user belongs to, with members.
    private func workspaceRows(_ id: String) async throws -> [CustomerDetailData.WorkspaceRow] {
        var workspaces: [WorkspaceRecord] = []
        if let own = try await store.workspace(id: id) { workspaces.append(own) }
        workspaces += try await store.workspaces(userId: id).map(\.0)
        var rows: [CustomerDetailData.WorkspaceRow] = []
        for workspace in workspaces {
            rows.append(
                CustomerDetailData.WorkspaceRow(
                    id: workspace.id, name: workspace.name,
                    members: try await store.members(workspaceId: workspace.id).map {
                        (email: $0.email, role: $0.role.rawValue)
                    }))
        }
        return rows
    }
}
