import Foundation
import TollgateCore

/// Usage across customers: the report of a month, and each feature's total over recent months.
public struct UsagePageData: Sendable {
    public let month: Date
    public let rows: [UsageReport.Row]
    /// Per feature, total usage per month (oldest first).
    public let trend: [(feature: String, months: [(start: Date, total: Int64)])]
    public let featureNames: [String: String]
    public let planNames: [String: String]
    /// Per feature and plan (`UsageReport.groupKey`), the customers whose counter has reached the
    /// plan's quota in a current period: at the limit, refused yet or not.
    public var atLimitNow: [String: Int] = [:]

    public init(
        month: Date, rows: [UsageReport.Row], trend: [(feature: String, months: [(start: Date, total: Int64)])],
        featureNames: [String: String], planNames: [String: String]
    ) {
        self.month = month
        self.rows = rows
        self.trend = trend
        self.featureNames = featureNames
        self.planNames = planNames
    }
}

public struct APIKeyRow: Sendable {
    public let id: String
    public let prefix: String
    public let name: String?
    public let scopes: [String]
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let expiresAt: Date?
    public let revokedAt: Date?

    public init(
        id: String, prefix: String, name: String?, scopes: [String], createdAt: Date, lastUsedAt: Date?,
        expiresAt: Date?, revokedAt: Date?
    ) {
        self.id = id
        self.prefix = prefix
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

public struct OperatorRow: Sendable {
    public let id: String
    public let email: String
    public let role: OperatorRole
    public let setUp: Bool

    public init(id: String, email: String, role: OperatorRole, setUp: Bool) {
        self.id = id
        self.email = email
        self.role = role
        self.setUp = setUp
    }
}

extension ConsoleFrame {
    public func usagePage(_ data: UsagePageData) -> String {
        page(title: t("usage")) {
            el("p", ["class": "muted"]) { "\(t("month"))\(t("colon"))\(Formats.month(data.month, locale: locale))" }
            el("section", ["class": "charts"]) {
                for entry in data.trend {
                    chartCard(data.featureNames[entry.feature] ?? entry.feature) {
                        SVGChart.bars(
                            entry.months.map {
                                .init(
                                    label: Formats.month($0.start, locale: locale), value: $0.total,
                                    text: number($0.total))
                            }, title: data.featureNames[entry.feature] ?? entry.feature, axis: { number($0) })
                    }
                }
            }
            table(
                [
                    "feature", "plan", "active_customers", "total_usage", "median", "p90", "at_limit_now",
                    "refused_at_limit", "refusals", "upgrade_prompts", "limit_to_upgrade",
                ],
                rows: data.rows.map { row in
                    [
                        data.featureNames[row.feature] ?? row.feature, data.planNames[row.planId] ?? row.planId,
                        number(row.activeCustomers), number(row.totalUsage),
                        row.medianPerCustomer.map { number($0) } ?? "—", row.p90PerCustomer.map { number($0) } ?? "—",
                        number(data.atLimitNow[UsageReport.groupKey(feature: row.feature, planId: row.planId)] ?? 0),
                        "\(number(row.customersAtLimit)) (\(percent(row.limitHitRate)))",
                        row.refusals.sorted { $0.key < $1.key }.map { "\(word("denial", $0.key)) \(number($0.value))" }
                            .joined(separator: ", "),
                        number(row.upgradePrompts),
                        "\(number(row.upgradedAfterPrompt)) (\(percent(row.limitToUpgradeRate)))",
                    ]
                }, id: "usage-report")
            el("p") { el("a", ["href": "/console/customers?nearLimit=true"]) { t("who_is_near_limit") } }
        }
    }

    public func catalogPage(_ catalog: Catalog, problems: [String]) -> String {
        page(title: t("catalog")) {
            if !problems.isEmpty {
                el("ul", ["class": "error", "role": "alert"]) { for problem in problems { el("li") { problem } } }
            }
            el("p") { "\(catalog.name) (\(catalog.product))" }
            el("div", ["class": "scroll"]) {
                el("table", ["id": "catalog-matrix"]) {
                    el("thead") {
                        el("tr") {
                            el("th", ["scope": "col"]) { t("feature") }
                            for plan in catalog.plans { el("th", ["scope": "col"]) { plan.name } }
                        }
                    }
                    el("tbody") {
                        el("tr") {
                            el("th", ["scope": "row"]) { t("prices") }
                            for plan in catalog.plans {
                                el("td") {
                                    if plan.prices.isEmpty { t("free") }
                                    for price in plan.prices { el("div") { priceText(price) } }
                                }
                            }
                        }
                        el("tr") {
                            el("th", ["scope": "row"]) { t("trial") }
                            for plan in catalog.plans {
                                el("td") { plan.trial.map { "\($0.days) \(t("days"))" } ?? "—" }
                            }
                        }
                        for feature in catalog.features {
                            el("tr") {
                                el("th", ["scope": "row"]) { feature.name(in: locale) }
                                for plan in catalog.plans { el("td") { grantText(plan.features[feature.id]) } }
                            }
                        }
                    }
                }
            }
            if !catalog.addOns.isEmpty {
                el("h2") { t("add_ons") }
                table(
                    ["name", "prices", "feature"],
                    rows: catalog.addOns.map { addOn in
                        [
                            addOn.name,
                            addOn.prices.map {
                                "\(money($0.amount, $0.currency)) / \(t("interval_" + $0.interval.rawValue))"
                            }
                            .joined(separator: ", "),
                            addOn.features.sorted { $0.key < $1.key }.map { "\($0.key) +\(number($0.value))" }
                                .joined(separator: ", "),
                        ]
                    }, id: "add-ons")
            }
            if !catalog.creditPacks.isEmpty {
                el("h2") { t("credit_packs") }
                table(
                    ["name", "amount", "prices"],
                    rows: catalog.creditPacks.map { pack in
                        [
                            pack.name, "\(number(pack.amount)) \(pack.creditType)",
                            pack.prices.map { money($0.amount, $0.currency) }.joined(separator: ", "),
                        ]
                    }, id: "credit-packs")
            }
        }
    }

    func priceText(_ price: Price) -> String {
        let base = "\(money(price.amount, price.currency)) / \(t("interval_" + price.interval.rawValue))"
        guard let perSeat = price.perSeatAmount else { return base }
        return base + " + \(money(perSeat, price.currency)) / \(t("seat"))"
    }

    func grantText(_ grant: FeatureGrant?) -> String {
        switch grant {
        case nil, .boolean(false): return "—"
        case .boolean(true): return "✓"
        case .limit(let limit): return limitText(limit)
        case .metered(.unlimited, _, _):
            // No period to state: nothing resets an unlimited quota.
            return t("unlimited")
        case .metered(let limit, let period, let overage):
            return "\(limitText(limit)) / \(t("period_" + period.rawValue))"
                + (overage != nil ? " + \(t("overage"))" : "")
        }
    }

    func limitText(_ limit: Limit) -> String {
        switch limit {
        case .unlimited: return t("unlimited")
        case .finite(let value): return number(value)
        }
    }

    public func apiKeysPage(_ keys: [APIKeyRow], scopes: [String], newSecret: String? = nil) -> String {
        page(title: t("api_keys")) {
            if let newSecret {
                el("div", ["class": "notice", "role": "status"]) {
                    el("p") { t("secret_shown_once") }
                    el("code", ["id": "new-secret"]) { newSecret }
                }
            }
            if may(.manageAPIKeys) {
                form("/console/api-keys", classes: "card") {
                    el("h2") { t("create_key") }
                    field(t("name"), name: "name")
                    el("fieldset") {
                        el("legend") { t("scopes") }
                        for scope in scopes {
                            el("div", ["class": "field check"]) {
                                el(
                                    "input",
                                    ["id": "scope-\(scope)", "type": "checkbox", "name": "scope", "value": scope])
                                el("label", ["for": "scope-\(scope)"]) { scope }
                            }
                        }
                    }
                    el("button", ["type": "submit"]) { t("create_key") }
                }
            }
            el("div", ["class": "scroll"]) {
                el("table", ["id": "api-keys"]) {
                    el("thead") {
                        el("tr") {
                            for key in ["name", "prefix", "scopes", "created", "last_used", "status", "actions"] {
                                el("th", ["scope": "col"]) { t(key) }
                            }
                        }
                    }
                    el("tbody") {
                        for key in keys {
                            el("tr") {
                                el("td") { key.name ?? "—" }
                                el("td") { el("code") { key.prefix + "…" } }
                                el("td") { key.scopes.joined(separator: ", ") }
                                el("td") { Formats.day(key.createdAt) }
                                el("td") { key.lastUsedAt.map(Formats.time) ?? "—" }
                                el("td") {
                                    if let revoked = key.revokedAt {
                                        "\(t("revoked")) \(Formats.day(revoked))"
                                    } else if let expires = key.expiresAt {
                                        "\(t("expires")) \(Formats.time(expires))"
                                    } else {
                                        t("active")
                                    }
                                }
                                el("td") {
                                    if key.revokedAt == nil, may(.manageAPIKeys) {
                                        form(
                                            "/console/api-keys/\(Paths.segment(key.id))/rotate",
                                            confirm: t("confirm_rotate"), classes: "inline"
                                        ) {
                                            el("button", ["type": "submit"]) { t("rotate") }
                                        }
                                        form(
                                            "/console/api-keys/\(Paths.segment(key.id))/revoke",
                                            confirm: t("confirm_revoke"), classes: "inline"
                                        ) {
                                            el("button", ["type": "submit", "class": "danger"]) { t("revoke") }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func operatorsPage(_ operators: [OperatorRow], setupLink: String? = nil) -> String {
        page(title: t("operators")) {
            if let setupLink {
                el("div", ["class": "notice", "role": "status"]) {
                    el("p") { t("setup_link_shown_once") }
                    el("code", ["id": "setup-link"]) { setupLink }
                }
            }
            if may(.manageOperators) {
                form("/console/operators", classes: "card") {
                    el("h2") { t("invite_operator") }
                    field(t("email"), name: "email", type: "email", required: true)
                    roleSelect(id: "f-role", selected: .viewer)
                    el("button", ["type": "submit"]) { t("invite") }
                }
            }
            el("div", ["class": "scroll"]) {
                el("table", ["id": "operators"]) {
                    el("thead") {
                        el("tr") {
                            for key in ["email", "role", "status", "actions"] { el("th", ["scope": "col"]) { t(key) } }
                        }
                    }
                    el("tbody") {
                        for row in operators {
                            el("tr") {
                                el("td") { row.email }
                                el("td") { t("role_" + row.role.rawValue) }
                                el("td") { row.setUp ? t("active") : t("invited") }
                                el("td") {
                                    if may(.manageOperators) {
                                        form("/console/operators/\(Paths.segment(row.id))/role", classes: "inline") {
                                            roleSelect(id: "role-\(row.id)", selected: row.role)
                                            el("button", ["type": "submit"]) { t("save") }
                                        }
                                        form(
                                            "/console/operators/\(Paths.segment(row.id))/remove",
                                            confirm: t("confirm_remove_operator"), classes: "inline"
                                        ) {
                                            el("button", ["type": "submit", "class": "danger"]) { t("remove") }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func roleSelect(id: String, selected: OperatorRole) -> HTML {
        el("span", ["class": "field"]) {
            el("label", ["for": id]) { t("role") }
            el("select", ["id": id, "name": "role"]) {
                for role in OperatorRole.allCases.reversed() {
                    el("option", ["value": role.rawValue, "selected": role == selected ? "" : nil]) {
                        t("role_" + role.rawValue)
                    }
                }
            }
        }
    }
}
