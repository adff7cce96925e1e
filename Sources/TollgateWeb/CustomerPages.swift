import Foundation
import TollgateCore
import TollgateStorage

/// A page of the customer listing, with the filters that made it.
public struct CustomerListData: Sendable {
    public struct Row: Sendable {
        public let id: String
        public let email: String?
        public let name: String?
        public let planName: String
        public let status: CustomerStatus
        public let createdAt: Date
        /// False on a priced plan (given by an operator, say): with no subscription it is not "Free".
        public var planIsFree = true

        public init(
            id: String, email: String?, name: String?, planName: String, status: CustomerStatus, createdAt: Date
        ) {
            self.id = id
            self.email = email
            self.name = name
            self.planName = planName
            self.status = status
            self.createdAt = createdAt
        }
    }

    public let rows: [Row]
    public let query: String
    public let plan: String?
    public let status: CustomerStatus?
    public let nearLimit: Bool
    public let sort: String
    public let plans: [(id: String, name: String)]
    /// The link to the next page, when there is one.
    public let nextPage: String?

    public init(
        rows: [Row], query: String, plan: String?, status: CustomerStatus?, nearLimit: Bool, sort: String,
        plans: [(id: String, name: String)], nextPage: String?
    ) {
        self.rows = rows
        self.query = query
        self.plan = plan
        self.status = status
        self.nearLimit = nearLimit
        self.sort = sort
        self.plans = plans
        self.nextPage = nextPage
    }
}

extension ConsoleFrame {
    public func customersPage(_ data: CustomerListData) -> String {
        page(title: t("customers")) {
            el("form", ["method": "get", "action": "/console/customers", "class": "filters", "role": "search"]) {
                field(t("search"), name: "query", type: "search", value: data.query)
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-plan"]) { t("plan") }
                    el("select", ["id": "f-plan", "name": "plan"]) {
                        el("option", ["value": ""]) { t("any") }
                        for plan in data.plans {
                            el("option", ["value": plan.id, "selected": plan.id == data.plan ? "" : nil]) { plan.name }
                        }
                    }
                }
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-status"]) { t("status") }
                    el("select", ["id": "f-status", "name": "status"]) {
                        el("option", ["value": ""]) { t("any") }
                        for status in CustomerStatus.allCases {
                            el("option", ["value": status.rawValue, "selected": status == data.status ? "" : nil]) {
                                t("status_" + status.rawValue)
                            }
                        }
                    }
                }
                el("div", ["class": "field check"]) {
                    el(
                        "input",
                        [
                            "id": "f-near", "type": "checkbox", "name": "nearLimit", "value": "true",
                            "checked": data.nearLimit ? "" : nil,
                        ])
                    el("label", ["for": "f-near"]) { t("near_limit") }
                }
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-sort"]) { t("sort") }
                    el("select", ["id": "f-sort", "name": "sort"]) {
                        for sort in CustomerQuery.Sort.allCases {
                            el("option", ["value": sort.rawValue, "selected": sort.rawValue == data.sort ? "" : nil]) {
                                t("sort_" + sort.rawValue)
                            }
                        }
                    }
                }
                el("button", ["type": "submit"]) { t("apply") }
            }
            if data.rows.isEmpty {
                el("p", ["class": "empty"]) { t("no_customers") }
            } else {
                el("div", ["class": "scroll"]) {
                    el("table", ["id": "customers"]) {
                        el("thead") {
                            el("tr") {
                                for key in ["customer", "email", "plan", "status", "created"] {
                                    el("th", ["scope": "col"]) { t(key) }
                                }
                            }
                        }
                        el("tbody") {
                            for row in data.rows {
                                el("tr") {
                                    el("td") {
                                        el("a", ["href": "/console/customers/" + Paths.segment(row.id)]) {
                                            row.name ?? row.id
                                        }
                                        if row.name != nil { el("div", ["class": "muted"]) { row.id } }
                                    }
                                    el("td") { row.email ?? "—" }
                                    el("td") { row.planName }
                                    el("td") { statusBadge(row.status, planIsFree: row.planIsFree) }
                                    el("td") { Formats.day(row.createdAt) }
                                }
                            }
                        }
                    }
                }
            }
            if let next = data.nextPage {
                el("p") { el("a", ["href": next, "rel": "next"]) { t("next_page") } }
            }
        }
    }
}

/// Building links from data.
public enum Paths {
    /// One path segment: everything but unreserved characters percent-encoded.
    public static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// A query string from pairs, nil values left out.
    public static func query(_ pairs: [(String, String?)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let parts = pairs.compactMap { key, value in
            value.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}

extension ConsoleFrame {
    /// A customer's status; on a priced plan without a subscription (an operator's gift, a plan
    /// set over the API) it says so rather than "Free".
    func statusBadge(_ status: CustomerStatus, planIsFree: Bool) -> HTML {
        if status == .free, !planIsFree {
            return el("span", ["class": "badge unbilled"]) { t("status_unbilled") }
        }
        return el("span", ["class": "badge \(status.rawValue)"]) { t("status_" + status.rawValue) }
    }
}
