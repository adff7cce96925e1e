import TollgateCore

/// The public pricing page: the catalog's plans side by side in ladder order,
/// monthly or yearly (with what a year saves), in one currency, and the feature matrix. The
/// toggles are links, so the page works without a script.
extension ConsoleFrame {
    public struct PricingChoice: Sendable {
        public let interval: BillingInterval
        public let currency: Currency

        public init(interval: BillingInterval, currency: Currency) {
            self.interval = interval
            self.currency = currency
        }
    }

    /// What a year at the yearly price saves against twelve months at the monthly one, in whole
    /// percent (rounded down); nil when there is no saving or no pair of prices.
    public static func yearlySaving(_ plan: Plan, currency: Currency) -> Int? {
        guard let month = plan.prices.first(where: { $0.currency == currency && $0.interval == .month }),
            let year = plan.prices.first(where: { $0.currency == currency && $0.interval == .year }),
            month.amount > 0, year.amount < month.amount * 12
        else { return nil }
        return Int((month.amount * 12 - year.amount) * 100 / (month.amount * 12))
    }

    /// `signedIn`: a user of the portal is reading (`currentPlan` is theirs).
    public func pricingPage(
        _ catalog: Catalog, choice: PricingChoice, base: String, signedIn: Bool = false, currentPlan: String? = nil,
        salesContact: String? = nil
    ) -> String {
        let plans = catalog.plans.sorted { ($0.order, $0.id) < ($1.order, $1.id) }
        func link(interval: BillingInterval, currency: Currency) -> String {
            base + Paths.query([("interval", interval.rawValue), ("currency", currency.code), ("lang", locale)])
        }
        return page(title: t("pricing")) {
            el("nav", ["class": "pills", "aria-label": t("billing_interval")]) {
                for interval in BillingInterval.allCases {
                    el(
                        "a",
                        [
                            "href": link(interval: interval, currency: choice.currency),
                            "aria-current": interval == choice.interval ? "true" : nil,
                            "id": "interval-\(interval.rawValue)",
                        ]
                    ) { t(interval == .month ? "billed_monthly" : "billed_yearly") }
                }
            }
            el("nav", ["class": "pills", "aria-label": t("currency")]) {
                for currency in catalog.planCurrencies {
                    el(
                        "a",
                        [
                            "href": link(interval: choice.interval, currency: currency),
                            "aria-current": currency == choice.currency ? "true" : nil,
                            "id": "currency-\(currency.code)",
                        ]
                    ) { currency.code }
                }
            }
            el("section", ["class": "plans", "aria-label": t("plans")]) {
                for plan in plans {
                    el("div", ["class": "plan-choice"]) {
                        planCard(plan, choice: choice)
                        callToAction(
                            plan, choice: choice, signedIn: signedIn, currentPlan: currentPlan,
                            salesContact: salesContact)
                    }
                }
            }
            el("h2") { t("compare_plans") }
            el("div", ["class": "scroll"]) {
                el("table", ["id": "feature-matrix"]) {
                    el("thead") {
                        el("tr") {
                            el("th", ["scope": "col"]) { t("feature") }
                            for plan in plans { el("th", ["scope": "col"]) { plan.name } }
                        }
                    }
                    el("tbody") {
                        for feature in catalog.features {
                            el("tr") {
                                el("th", ["scope": "row"]) { feature.name(in: locale) }
                                for plan in plans { el("td") { grantText(plan.features[feature.id]) } }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Where each plan leads: the portal's sign-up for the free plan, its plan change (which
    /// starts the trial, checks out or subscribes) for the others, contact sales for a plan sold
    /// by a person (`PlanOffer.salesOnly`). Inside another site's frame the link opens the whole
    /// window.
    func callToAction(
        _ plan: Plan, choice: PricingChoice, signedIn: Bool, currentPlan: String?, salesContact: String? = nil
    ) -> HTML {
        if plan.id == currentPlan {
            return el("p", ["class": "badge", "id": "cta-\(plan.id)"]) { t("current_plan") }
        }
        let target = isEmbedded ? "_top" : nil
        let change =
            "/portal/upgrade"
            + Paths.query([
                ("plan", plan.id), ("interval", choice.interval.rawValue), ("currency", choice.currency.code),
            ])
        let (href, label): (String, String)
        switch plan.offer(currency: choice.currency, interval: choice.interval) {
        case .free:
            (href, label) =
                signedIn ? (change, t("switch_to") + " " + plan.name) : ("/portal/signup", t("create_account"))
        case .salesOnly:
            // The team's address or page when the operator set one (`serve --sales-contact`).
            (href, label) = (salesContact ?? change, t("contact_sales"))
        case .selfServe:
            if let trial = plan.trial {
                (href, label) = (change, "\(t("start_trial")) (\(number(trial.days)) \(t("days")))")
            } else {
                (href, label) = (change, t("choose_plan") + " " + plan.name)
            }
        }
        return el("a", ["class": "button", "href": href, "target": target, "id": "cta-\(plan.id)"]) { label }
    }

    func planCard(_ plan: Plan, choice: PricingChoice) -> HTML {
        let price = plan.prices.first { $0.currency == choice.currency && $0.interval == choice.interval }
        return el(
            "article", ["class": plan.highlighted ? "card plan highlighted" : "card plan", "id": "plan-\(plan.id)"]
        ) {
            if plan.highlighted { el("p", ["class": "badge highlight"]) { t("most_popular") } }
            el("h3") { plan.name }
            if let tagline = plan.tagline { el("p", ["class": "tagline muted"]) { tagline.text(in: locale) } }
            el("p", ["class": "price"]) {
                if plan.isFree {
                    // As prominent as a price.
                    el("span", ["class": "amount"]) { t("free") }
                } else if let price {
                    el("span", ["class": "amount"]) { money(price.amount, price.currency) }
                    " / \(t("interval_" + price.interval.rawValue))"
                } else {
                    t("not_priced")
                }
            }
            if let price, let perSeat = price.perSeatAmount {
                el("p", ["class": "muted per-seat"]) {
                    "+ \(money(perSeat, price.currency)) \(t("per_seat"))"
                        + (price.minimumSeats.map { ", \(number($0)) \(t("seats_minimum"))" } ?? "")
                }
            }
            if choice.interval == .year, let saving = Self.yearlySaving(plan, currency: choice.currency) {
                el("p", ["class": "saving"]) { "\(t("yearly_saves")) \(saving) %" }
            }
            if let trial = plan.trial {
                el("p", ["class": "trial"]) {
                    "\(trial.days) \(t("trial_days"))"
                        + (trial.requiresPaymentMethod ? "" : " · \(t("no_card_needed"))")
                }
            }
        }
    }
}
