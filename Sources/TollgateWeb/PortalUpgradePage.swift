import Foundation
import TollgateCore

/// The portal's plan change: the catalog's plans, and for the one chosen
/// what it adds and what the change costs, asked before it is made. A refusal's `upgradeTier`
/// leads here with `?plan=&feature=`.
public struct PortalUpgradeData: Sendable {
    /// What confirming would do.
    public enum Outcome: Sendable {
        /// A change at once; the prorated amount (negative: credited), if any, charged now (Stripe)
        /// or added to the next invoice (the manual provider).
        case changeNow(proration: Money?, chargedNow: Bool)
        /// A trial moved to a plan without one: it ends, and the new period is invoiced now.
        case endTrial(charge: Money, periodEnd: Date)
        /// A downgrade, at the end of the period.
        case changeAtPeriodEnd(Date)
        /// No subscription yet: a cardless trial of this many days, then `price` to subscribe;
        /// at its end the customer is back on `fallback` (the catalog's default plan).
        case startTrial(days: Int, price: Money, fallback: String)
        /// No subscription yet: subscribe at this price, billed from today.
        case subscribe(Money)
        /// Stripe takes the payment: its checkout, then back here.
        case checkout
        /// Sold by the product's team (a seat-priced plan): the minimum seats, where to reach them
        /// (a `mailto:` link or a URL).
        case contactSales(minimumSeats: Int?, link: String?)
        /// The plan is the current one, or has no price in this currency and interval.
        case unavailable(String)
    }

    public var plans: [Plan]
    /// The catalog's features, in its order, for the comparison.
    public var features: [FeatureDefinition]
    public var currentPlanId: String
    public var choice: ConsoleFrame.PricingChoice
    public var selected: Plan?
    /// The feature a refusal was about, when the page was opened from one.
    public var feature: FeatureDefinition?
    public var outcome: Outcome?
    public var error: String?
    /// The workspace whose plan changes (id, name); nil: the user's own.
    public var workspace: (id: String, name: String)?

    public init(
        plans: [Plan], features: [FeatureDefinition], currentPlanId: String, choice: ConsoleFrame.PricingChoice,
        selected: Plan?,
        feature: FeatureDefinition?, outcome: Outcome?, error: String? = nil
    ) {
        self.plans = plans
        self.features = features
        self.currentPlanId = currentPlanId
        self.choice = choice
        self.selected = selected
        self.feature = feature
        self.outcome = outcome
        self.error = error
    }
}

extension ConsoleFrame {
    public func portalUpgradePage(_ data: PortalUpgradeData, idempotencyKey: String) -> String {
        let current = data.plans.first { $0.id == data.currentPlanId }
        func link(plan: String?, interval: BillingInterval, currency: Currency) -> String {
            "/portal/upgrade"
                + Paths.query([
                    ("workspace", data.workspace?.id), ("plan", plan), ("feature", data.feature?.id),
                    ("interval", interval.rawValue), ("currency", currency.code),
                ])
        }
        return page(title: data.workspace.map { "\(t("portal_change_plan")) — \($0.name)" } ?? t("portal_change_plan"))
        {
            alert(data.error)
            if let feature = data.feature, let selected = data.selected {
                el("div", ["class": "notice", "id": "paywall"]) {
                    el("p") {
                        // Why the feature stopped: not in the plan, a lifetime starter pack used
                        // up, or a period's limit reached.
                        let held = data.plans.first { $0.id == data.currentPlanId }?.features[feature.id]
                        switch held {
                        case nil, .boolean(false): t("paywall_not_included") + " "
                        case .metered(_, .lifetime, _): t("paywall_starter_pack") + " "
                        default: t("paywall_reached") + " "
                        }
                        el("strong") { feature.name(in: locale) }
                    }
                    el("p") {
                        el("strong") { selected.name }
                        " — \(grantText(selected.features[feature.id]))"
                    }
                }
            }
            // The plan chosen first, with what confirming does; then every plan to choose another.
            if let selected = data.selected, let outcome = data.outcome {
                confirmation(selected, current: current, outcome: outcome, data: data, key: idempotencyKey)
            }
            el("nav", ["class": "pills", "aria-label": t("billing_interval")]) {
                for interval in BillingInterval.allCases {
                    el(
                        "a",
                        [
                            "href": link(plan: data.selected?.id, interval: interval, currency: data.choice.currency),
                            "aria-current": interval == data.choice.interval ? "true" : nil,
                        ]
                    ) { t(interval == .month ? "billed_monthly" : "billed_yearly") }
                }
            }
            el("section", ["class": "plans", "aria-label": t("plans")]) {
                for plan in data.plans {
                    el("div", ["class": "plan-choice"]) {
                        planCard(plan, choice: data.choice)
                        if plan.id == data.currentPlanId {
                            el("p", ["class": "badge", "id": "current-\(plan.id)"]) { t("current_plan") }
                        } else {
                            el(
                                "a",
                                [
                                    "class": "button", "id": "choose-\(plan.id)",
                                    "href": link(
                                        plan: plan.id, interval: data.choice.interval, currency: data.choice.currency),
                                    "aria-current": plan.id == data.selected?.id ? "true" : nil,
                                ]
                            ) {
                                // As on the pricing page: a plan priced per seat is sold by the team.
                                plan.prices.contains {
                                    $0.currency == data.choice.currency && $0.interval == data.choice.interval
                                        && $0.perSeatAmount != nil
                                }
                                    ? t("contact_sales")
                                    : (plan.order > (current?.order ?? 0) ? t("upgrade_to") : t("switch_to")) + " "
                                        + plan.name
                            }
                        }
                    }
                }
            }
        }
    }

    func confirmation(
        _ selected: Plan, current: Plan?, outcome: PortalUpgradeData.Outcome, data: PortalUpgradeData, key: String
    ) -> HTML {
        el("section", ["aria-labelledby": "h-confirm", "class": "card", "id": "confirm"]) {
            el("h2", ["id": "h-confirm"]) { selected.name }
            let differing = data.features.filter { current?.features[$0.id] != selected.features[$0.id] }
            if !differing.isEmpty {
                el("div", ["class": "scroll"]) {
                    el("table", ["id": "plan-adds"]) {
                        el("thead") {
                            el("tr") {
                                el("th", ["scope": "col"]) { t("feature") }
                                el("th", ["scope": "col"]) { current?.name ?? t("current_plan") }
                                el("th", ["scope": "col"]) { selected.name }
                            }
                        }
                        el("tbody") {
                            for feature in differing {
                                el("tr") {
                                    el("th", ["scope": "row"]) { feature.name(in: locale) }
                                    el("td") { grantText(current?.features[feature.id]) }
                                    el("td") { grantText(selected.features[feature.id]) }
                                }
                            }
                        }
                    }
                }
            }
            switch outcome {
            case .changeNow(let proration, let chargedNow):
                el("p", ["id": "proration"]) {
                    if let proration, proration.amountMinor > 0 {
                        "\(t(chargedNow ? "proration_charge" : "proration_next_invoice")) "
                            + money(proration.amountMinor, proration.currency)
                    } else if let proration {
                        "\(t("proration_credit")) \(money(-proration.amountMinor, proration.currency))"
                    } else {
                        t("no_proration")
                    }
                }
                confirmForm(selected, data: data, key: key)
            case .changeAtPeriodEnd(let date):
                el("p", ["id": "proration"]) { "\(t("downgrade_at_period_end")) \(Formats.day(date))." }
                confirmForm(selected, data: data, key: key)
            case .endTrial(let charge, let periodEnd):
                el("p", ["id": "proration"]) {
                    "\(t("trial_ends_now")) \(Formats.day(periodEnd)): \(money(charge.amountMinor, charge.currency))"
                }
                confirmForm(selected, data: data, key: key)
            case .startTrial(let days, let price, let fallback):
                el("p", ["id": "proration"]) { "\(number(days)) \(t("trial_days")) · \(t("no_card_needed"))" }
                el("p", ["id": "after-trial"]) {
                    "\(t("trial_then")) \(money(price.amountMinor, price.currency)) / "
                        + t("interval_" + data.choice.interval.rawValue) + ". "
                        + "\(t("trial_end_fallback")) \(fallback), \(t("trial_end_fallback_after"))"
                }
                confirmForm(selected, data: data, key: key)
            case .subscribe(let price):
                el("p", ["id": "proration"]) {
                    "\(money(price.amountMinor, price.currency)) / \(t("interval_" + data.choice.interval.rawValue))"
                }
                confirmForm(selected, data: data, key: key)
            case .checkout:
                el("p") { t("checkout_with_stripe") }
                confirmForm(selected, data: data, key: key)
            case .contactSales(let minimumSeats, let link):
                el("p", ["id": "contact-sales"]) {
                    t("contact_sales_text") + (minimumSeats.map { " \(t("minimum_seats")) \(number($0))." } ?? "")
                }
                if let link { el("p") { el("a", ["href": link, "id": "sales-contact"]) { t("contact_sales") } } }
            case .unavailable(let reason):
                el("p", ["class": "muted"]) { reason }
            }
        }
    }

    func confirmForm(_ plan: Plan, data: PortalUpgradeData, key: String) -> HTML {
        form("/portal/upgrade") {
            el("input", ["type": "hidden", "name": "plan", "value": plan.id])
            el("input", ["type": "hidden", "name": "interval", "value": data.choice.interval.rawValue])
            el("input", ["type": "hidden", "name": "currency", "value": data.choice.currency.code])
            el("input", ["type": "hidden", "name": "key", "value": key])
            if let workspace = data.workspace {
                el("input", ["type": "hidden", "name": "workspace", "value": workspace.id])
            }
            el("button", ["type": "submit", "id": "confirm-change"]) { t("confirm_change") }
        }
    }
}
