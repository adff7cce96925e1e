import Foundation
import TollgateBilling
import TollgateCore
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// The rows the console's and the portal's pages draw, made one way from the services' records.
extension CustomerDetailData.UsageRow {
    /// Counted, included quotas only: what a meter can show (a setting such as a retention in
    /// days is not one).
    /// `upgrades`: the catalog, when a used-up quota offers the plan that lifts it (the portal's
    /// meters; `workspace` when they are a workspace's pool).
    static func meters(
        _ entitlements: CustomerEntitlements, language: String = "en", upgrades catalog: Catalog? = nil,
        workspace: String? = nil
    ) -> [CustomerDetailData.UsageRow] {
        entitlements.features.filter { $0.quota.isCounted && $0.quota.included && !$0.feature.isSetting }.map {
            entry in
            var row = CustomerDetailData.UsageRow(
                feature: entry.feature.id, featureName: entry.feature.name(in: language), used: entry.used,
                limit: entry.quota.limit?.value, period: entry.quota.period?.rawValue, resetsAt: entry.quota.resetsAt)
            if let catalog, row.level == "full",
                let next = Entitlements.upgradeTier(
                    catalog: catalog, from: entitlements.plan, feature: entry.feature, amount: 0
                ).flatMap(catalog.plan)
            {
                let query = [("workspace", workspace), ("feature", entry.feature.id), ("plan", next.id)]
                row.upgrade = (next.name, "/portal/upgrade" + Paths.query(query))
            }
            return row
        }
    }
}

extension CustomerDetailData.SubscriptionRow {
    init(_ subscription: Subscription, provider: String, planName: String, catalog: Catalog) {
        self.init(
            id: subscription.id, provider: provider, planName: planName, status: subscription.status.rawValue,
            interval: subscription.interval.rawValue, periodEnd: subscription.currentPeriodEnd,
            trialEnd: subscription.trialEnd, cancelAtPeriodEnd: subscription.cancelAtPeriodEnd)
        // The plan's line of a period's invoice: its price, times the seats when priced per seat.
        if let line = Invoicing.subscriptionLines(catalog: catalog, subscription: subscription).first {
            amount = Money(line.amount, subscription.currency)
        }
        seats = subscription.seats
        pendingPlanName = subscription.pendingPlanId.map { catalog.plan($0)?.name ?? $0 }
    }
}

extension CustomerDetailData.BillingParty {
    init(_ details: BillingDetails) {
        let party = details.party
        let place = [party.postalCode, party.city].filter { !$0.isEmpty }.joined(separator: " ")
        self.init(
            lines: [party.legalName] + party.addressLines + [place, party.country].filter { !$0.isEmpty },
            vatNumber: party.vatNumber, paymentTermsDays: details.paymentTermsDays)
    }
}

extension CustomerDetailData.InvoiceRow {
    init(_ invoice: InvoiceRecord) {
        self.init(
            id: invoice.id, number: invoice.number, status: invoice.status.rawValue,
            hasDocument: PaymentProviderKind(rawValue: invoice.provider) == .manual && invoice.number != nil,
            total: Money(invoice.total, invoice.currency), at: invoice.finalizedAt ?? invoice.createdAt)
        dueAt = invoice.dueAt
        own = PaymentProviderKind(rawValue: invoice.provider) == .manual
        fullyCredited = invoice.total > 0 && invoice.credited >= invoice.total
    }
}
