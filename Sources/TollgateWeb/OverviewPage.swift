import Foundation
import TollgateCore

/// The business at a glance, from the revenue and customer analytics.
public struct OverviewData: Sendable {
    public struct Month: Sendable {
        public let start: Date
        public let mrr: Int64
        public let payingCustomers: Int
        public let signUps: Int
        public let netMrrChurnRate: Double?
        public let trialConversionRate: Double?

        public init(
            start: Date, mrr: Int64, payingCustomers: Int, signUps: Int, netMrrChurnRate: Double?,
            trialConversionRate: Double?
        ) {
            self.start = start
            self.mrr = mrr
            self.payingCustomers = payingCustomers
            self.signUps = signUps
            self.netMrrChurnRate = netMrrChurnRate
            self.trialConversionRate = trialConversionRate
        }
    }

    public let currency: Currency
    /// Twelve months, oldest first; the last is the current one.
    public let months: [Month]
    public let customersByStatus: [CustomerStatus: Int]
    /// This month's MRR movements so far, by kind.
    public let movements: [MovementKind: Int64]

    public init(
        currency: Currency, months: [Month], customersByStatus: [CustomerStatus: Int], movements: [MovementKind: Int64]
    ) {
        self.currency = currency
        self.months = months
        self.customersByStatus = customersByStatus
        self.movements = movements
    }
}

extension ConsoleFrame {
    public func overviewPage(_ data: OverviewData, currencies: [Currency]) -> String {
        let current = data.months.last
        let previous = data.months.dropLast().last
        let mrr = current?.mrr ?? 0
        return page(title: t("overview")) {
            if currencies.count > 1 {
                el("nav", ["class": "pills", "aria-label": t("currency")]) {
                    for currency in currencies {
                        el(
                            "a",
                            [
                                "href": "/console?currency=\(currency.code)",
                                "aria-current": currency == data.currency ? "page" : nil,
                            ]
                        ) { currency.code }
                    }
                }
            }
            el("section", ["class": "tiles", "aria-label": t("key_figures")]) {
                tile(t("mrr"), money(mrr, data.currency), id: "tile-mrr")
                tile(t("arr"), money(mrr * 12, data.currency), id: "tile-arr")
                tile(
                    "\(t("paying_customers")) (\(data.currency.code))", number(current?.payingCustomers ?? 0),
                    id: "tile-paying")
                tile(t("status_trialing"), number(data.customersByStatus[.trialing] ?? 0), id: "tile-trialing")
                tile(t("status_free"), number(data.customersByStatus[.free] ?? 0), id: "tile-free")
                tile(t("net_mrr_churn"), percent(previous?.netMrrChurnRate), id: "tile-churn")
                tile(t("trial_conversion"), percent(previous?.trialConversionRate), id: "tile-trial-conversion")
                tile(t("sign_ups_this_month"), number(current?.signUps ?? 0), id: "tile-signups")
            }
            el("section", ["class": "charts"]) {
                let moneyText = { (amount: Int64) in self.money(amount, data.currency) }
                let countText = { (value: Int64) in self.number(value) }
                monthlyChart(t("mrr_12_months"), data.months, line: true, format: moneyText) { $0.mrr }
                monthlyChart(t("paying_customers"), data.months, line: true, format: countText) {
                    Int64($0.payingCustomers)
                }
                monthlyChart(t("sign_ups"), data.months, line: false, format: countText) { Int64($0.signUps) }
                chartCard(t("mrr_movements_this_month")) {
                    SVGChart.bars(
                        MovementKind.allCases.map { kind in
                            let amount = data.movements[kind] ?? 0
                            return .init(
                                label: t("movement_" + kind.rawValue), value: amount,
                                text: money(amount, data.currency))
                        }, title: t("mrr_movements_this_month"), axis: { money($0, data.currency) })
                }
            }
            el("section") {
                el("h2") { t("customers_by_status") }
                // The tiles count one currency's subscriptions; this table counts every customer.
                el("p", ["class": "muted", "id": "status-note"]) {
                    t("customers_by_status_note").replacingOccurrences(of: "{currency}", with: data.currency.code)
                }
                el("table", ["id": "customers-by-status"]) {
                    el("thead") {
                        el("tr") {
                            el("th", ["scope": "col"]) { t("status") }; el("th", ["scope": "col"]) { t("customers") }
                        }
                    }
                    el("tbody") {
                        for status in CustomerStatus.allCases {
                            el("tr") {
                                el("td") {
                                    el("a", ["href": "/console/customers?status=\(status.rawValue)"]) {
                                        t("status_" + status.rawValue)
                                    }
                                }
                                el("td", ["class": "num"]) { number(data.customersByStatus[status] ?? 0) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One figure of each month, drawn as a line or as bars.
    func monthlyChart(
        _ title: String, _ months: [OverviewData.Month], line: Bool, format: @escaping (Int64) -> String,
        value: (OverviewData.Month) -> Int64
    ) -> HTML {
        let points = months.map { month in
            SVGChart.Point(
                label: Formats.month(month.start, locale: locale), value: value(month), text: format(value(month)))
        }
        return chartCard(title) {
            line
                ? SVGChart.line(points, title: title, axis: format) : SVGChart.bars(points, title: title, axis: format)
        }
    }

    func tile(_ label: String, _ value: String, id: String) -> HTML {
        el("div", ["class": "tile", "id": id]) {
            el("span", ["class": "label"]) { label }
            el("span", ["class": "value"]) { value }
        }
    }

    func chartCard(_ title: String, @HTMLBuilder _ chart: () -> HTML) -> HTML {
        el("figure", ["class": "card"]) {
            el("figcaption") { title }
            chart()
        }
    }
}
