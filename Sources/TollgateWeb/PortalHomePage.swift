import Foundation
import TollgateCore

/// What the portal's first page shows a signed-in end user: their plan and its state, a meter
/// per quota, credits, and the pools of the workspaces they belong to.
public struct PortalHomeData: Sendable {
    public struct Pool: Sendable {
        public let workspaceName: String
        public let planName: String
        public let meters: [CustomerDetailData.UsageRow]

        public init(workspaceName: String, planName: String, meters: [CustomerDetailData.UsageRow]) {
            self.workspaceName = workspaceName
            self.planName = planName
            self.meters = meters
        }
    }

    public struct Balance: Sendable {
        public let creditType: String
        public let available: Int64

        public init(creditType: String, available: Int64) {
            self.creditType = creditType
            self.available = available
        }
    }

    /// A credit pack the user may buy.
    public struct Pack: Sendable {
        public let id: String
        public let name: String
        public let credits: Int64
        public let price: Money

        public init(id: String, name: String, credits: Int64, price: Money) {
            self.id = id
            self.name = name
            self.credits = credits
            self.price = price
        }
    }

    public var planName: String
    public var subscription: CustomerDetailData.SubscriptionRow?
    /// The plan a downgrade moves to at the period's end.
    public var pendingPlanName: String?
    public var trialDaysLeft: Int?
    public var meters: [CustomerDetailData.UsageRow]
    public var balances: [Balance]
    public var pools: [Pool]
    /// The subscription is billed by hand here (not Stripe): the portal cancels and resumes it.
    public var managedHere: Bool
    /// Stripe bills it: its payment methods and invoices are in Stripe's own portal.
    public var managedByStripe: Bool
    public var packs: [Pack] = []
    /// The key the pack forms carry, so a form sent twice buys once.
    public var formKey = ""
    /// Packs are charged on the next invoice (the manual provider), not paid on the spot.
    public var packsOnInvoice = false

    public init(
        planName: String, subscription: CustomerDetailData.SubscriptionRow?, pendingPlanName: String?,
        trialDaysLeft: Int?, meters: [CustomerDetailData.UsageRow], balances: [Balance], pools: [Pool],
        managedHere: Bool, managedByStripe: Bool = false
    ) {
        self.planName = planName
        self.subscription = subscription
        self.pendingPlanName = pendingPlanName
        self.trialDaysLeft = trialDaysLeft
        self.meters = meters
        self.balances = balances
        self.pools = pools
        self.managedHere = managedHere
        self.managedByStripe = managedByStripe
    }
}

extension ConsoleFrame {
    public func portalHomePage(_ data: PortalHomeData, notice: String? = nil) -> String {
        page(title: t("portal_plan")) {
            noticeLine(notice)
            el("dl", ["class": "facts", "id": "plan-facts"]) {
                el("dt") { t("plan") }
                el("dd", ["id": "current-plan"]) { data.planName }
                if let subscription = data.subscription {
                    el("dt") { t("status") }
                    el("dd", ["id": "subscription-status"]) {
                        t("status_" + subscription.status)
                            + (subscription.cancelAtPeriodEnd ? " · \(t("cancels_at_period_end"))" : "")
                    }
                    el("dt") { t("period_end") }
                    el("dd") { Formats.day(subscription.periodEnd) }
                }
                if let days = data.trialDaysLeft {
                    el("dt") { t("trial_end") }
                    el("dd", ["id": "trial-left"]) { "\(number(days)) \(t("days_left"))" }
                }
                if let pending = data.pendingPlanName {
                    el("dt") { t("next_plan") }
                    el("dd", ["id": "pending-plan"]) { pending }
                }
            }
            el("p") {
                el("a", ["class": "button", "href": "/portal/upgrade", "id": "change-plan"]) { t("portal_change_plan") }
            }
            if data.managedByStripe {
                form("/portal/payment", classes: "inline") {
                    el("button", ["type": "submit", "id": "stripe-portal"]) { t("manage_payment") }
                }
            }
            if let subscription = data.subscription, data.managedHere || data.managedByStripe {
                if subscription.cancelAtPeriodEnd {
                    if data.managedHere {
                        form("/portal/resume", classes: "inline") {
                            el("button", ["type": "submit", "id": "resume"]) { t("resume_subscription") }
                        }
                    }
                } else if subscription.status == "active" || subscription.status == "trialing" {
                    form("/portal/cancel", confirm: t("confirm_cancel_self"), classes: "inline") {
                        el("button", ["type": "submit", "class": "danger", "id": "cancel"]) { t("cancel_subscription") }
                    }
                }
            }
            el("section", ["aria-labelledby": "h-usage"]) {
                el("h2", ["id": "h-usage"]) { t("usage") }
                if data.meters.isEmpty { el("p", ["class": "empty"]) { t("no_usage") } }
                meterList(data.meters, id: "usage-meters")
            }
            if !data.balances.isEmpty {
                el("section", ["aria-labelledby": "h-credits"]) {
                    el("h2", ["id": "h-credits"]) { t("credits") }
                    table(
                        ["credit_type", "available"],
                        rows: data.balances.map { [$0.creditType, number($0.available)] },
                        id: "balances")
                }
            }
            if !data.packs.isEmpty {
                el("section", ["aria-labelledby": "h-packs"]) {
                    el("h2", ["id": "h-packs"]) { t("buy_credits") }
                    for pack in data.packs {
                        form("/portal/credit-packs", confirm: t("confirm_buy_credit_pack"), classes: "card") {
                            el("input", ["type": "hidden", "name": "key", "value": "\(data.formKey)_\(pack.id)"])
                            el("input", ["type": "hidden", "name": "pack", "value": pack.id])
                            let price = money(pack.price.amountMinor, pack.price.currency)
                            el("p") {
                                "\(pack.name) · \(price)" + (data.packsOnInvoice ? " (\(t("on_next_invoice")))" : "")
                            }
                            el("button", ["type": "submit", "id": "buy-\(pack.id)"]) { t("buy") }
                        }
                    }
                }
            }
            for (index, pool) in data.pools.enumerated() {
                el("section", ["aria-labelledby": "h-pool-\(index)"]) {
                    el("h2", ["id": "h-pool-\(index)"]) { "\(t("workspace_pool")) · \(pool.workspaceName)" }
                    el("p", ["class": "muted"]) { pool.planName }
                    meterList(pool.meters, id: "pool-\(index)")
                }
            }
        }
    }

    public func portalInvoicesPage(_ rows: [CustomerDetailData.InvoiceRow]) -> String {
        page(title: t("invoices")) {
            invoiceTable(rows, documents: "/portal/invoices/")
        }
    }
}
