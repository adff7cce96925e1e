import Foundation
import TollgateCore

extension ConsoleFrame {
    public func customerPage(_ data: CustomerDetailData, notice: String? = nil) -> String {
        let base = "/console/customers/" + Paths.segment(data.id)
        return page(title: data.name ?? data.id) {
            noticeLine(notice)
            if let link = data.checkoutLink {
                el("p", ["class": "notice", "role": "status", "id": "checkout-link"]) {
                    t("checkout_link")
                    " "
                    el("a", ["href": link]) { link }
                }
            }
            el("dl", ["class": "facts", "id": "customer-facts"]) {
                el("dt") { t("customer") }
                el("dd") { el("code") { data.id } }
                el("dt") { t("email") }
                el("dd") { data.email ?? "—" }
                el("dt") { t("plan") }
                el("dd", ["id": "customer-plan"]) { data.planName }
                el("dt") { t("status") }
                el("dd", ["id": "customer-status"]) { statusBadge(data.status, planIsFree: data.planIsFree) }
                el("dt") { t("created") }
                el("dd") { Formats.time(data.createdAt) }
                el("dt") { t("spend_cap") }
                el("dd", ["id": "customer-spend-cap"]) {
                    data.spendCap.map { money($0.amountMinor, $0.currency) } ?? t("none")
                }
            }
            el("section", ["aria-labelledby": "h-usage"]) {
                el("h2", ["id": "h-usage"]) { t("usage") }
                if data.usage.isEmpty { el("p", ["class": "empty"]) { t("no_usage") } }
                meterList(data.usage, id: "usage-meters")
            }
            el("section", ["aria-labelledby": "h-actions", "class": "actions"]) {
                el("h2", ["id": "h-actions"]) { t("actions") }
                actionForms(data, base: base)
            }
            el("section", ["aria-labelledby": "h-subscriptions"]) {
                el("h2", ["id": "h-subscriptions"]) { t("subscriptions") }
                table(
                    ["subscription", "provider", "plan", "price", "status", "period_end", "trial_end"],
                    rows: data.subscriptions.map { s in
                        [
                            s.id, word("provider", s.provider),
                            s.planName + (s.pendingPlanName.map { " → \($0) (\(t("next_plan")))" } ?? ""),
                            (s.amount.map { "\(money($0.amountMinor, $0.currency)) / \(t("interval_" + s.interval))" }
                                ?? "—") + (s.seats.map { " · \(number(Int64($0))) \(t("seats"))" } ?? ""),
                            word("subscription_status", s.status)
                                + (s.cancelAtPeriodEnd ? " (\(t("cancels_at_period_end")))" : ""),
                            Formats.day(s.periodEnd), s.trialEnd.map(Formats.day) ?? "—",
                        ]
                    }, id: "subscriptions")
                el("h3") { t("billing_details") }
                if let billing = data.billing {
                    el("dl", ["class": "facts", "id": "billing-details"]) {
                        el("dt") { t("billed_to") }
                        el("dd") { billing.lines.joined(separator: ", ") }
                        el("dt") { t("vat_number") }
                        el("dd") { billing.vatNumber ?? "—" }
                        el("dt") { t("payment_terms") }
                        el("dd") {
                            billing.paymentTermsDays == 0
                                ? t("due_on_receipt") : "\(number(Int64(billing.paymentTermsDays))) \(t("days"))"
                        }
                    }
                } else {
                    el("p", ["class": "empty", "id": "billing-details"]) { t("no_billing_details") }
                }
                el("h3") { t("history") }
                table(
                    ["time", "plan", "status"],
                    rows: data.history.map { row in
                        let status =
                            row.status == "trial_extended"
                            ? t("trial_extended_until") + " " + (row.until.map(Formats.day) ?? "—")
                            : t("status_" + row.status)
                        return [Formats.time(row.at), row.planName, status]
                    },
                    id: "history")
            }
            el("section", ["aria-labelledby": "h-credits"]) {
                el("h2", ["id": "h-credits"]) { t("credits") }
                table(
                    ["credit_type", "balance", "available"],
                    rows: data.balances.map { [$0.creditType, number($0.balance), number($0.available)] },
                    id: "balances")
                el("h3") { t("ledger") }
                table(
                    ["time", "credit_type", "amount", "reason"],
                    rows: data.ledger.map {
                        [
                            Formats.time($0.at), $0.creditType, ($0.amount > 0 ? "+" : "") + number($0.amount),
                            word("credit_reason", $0.reason),
                        ]
                    }, id: "ledger")
            }
            el("section", ["aria-labelledby": "h-invoices"]) {
                el("h2", ["id": "h-invoices"]) { t("invoices") }
                invoiceTable(data.invoices, actions: (may(.manageInvoices), data.formKey))
            }
            el("section", ["aria-labelledby": "h-refusals"]) {
                el("h2", ["id": "h-refusals"]) { t("recent_refusals") }
                table(
                    ["day", "feature", "reason", "count"],
                    rows: data.refusals.map {
                        [Formats.day($0.day), $0.feature, word("denial", $0.reason), number($0.count)]
                    },
                    id: "refusals")
            }
            el("section", ["aria-labelledby": "h-workspaces"]) {
                el("h2", ["id": "h-workspaces"]) { t("workspaces") }
                if data.workspaces.isEmpty { el("p", ["class": "empty"]) { t("none") } }
                for workspace in data.workspaces {
                    el("h3") { "\(workspace.name) (\(workspace.id))" }
                    table(["email", "role"], rows: workspace.members.map { [$0.email, $0.role] }, id: nil)
                }
            }
        }
    }

    @HTMLBuilder
    func actionForms(_ data: CustomerDetailData, base: String) -> HTML {
        if may(.changePlan) {
            form(base + "/plan", confirm: t("confirm_change_plan"), classes: "card") {
                el("h3") { t("change_plan") }
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-new-plan"]) { t("plan") }
                    el("select", ["id": "f-new-plan", "name": "plan"]) {
                        for plan in data.plans {
                            el("option", ["value": plan.id, "selected": plan.id == data.planId ? "" : nil]) {
                                plan.name
                            }
                        }
                    }
                }
                el("button", ["type": "submit"]) { t("change_plan") }
            }
        }
        if may(.changePlan), !data.subscriptionPlans.isEmpty {
            form(base + "/subscription-plan", confirm: t("confirm_change_subscription_plan"), classes: "card") {
                el("h3") { t("change_subscription_plan") }
                el("input", ["type": "hidden", "name": "key", "value": data.formKey + "_subscription"])
                select(
                    t("plan"), name: "plan", id: "f-subscription-plan",
                    options: data.subscriptionPlans.map { ($0.id, $0.name) })
                el("button", ["type": "submit"]) { t("change_subscription_plan") }
            }
        }
        if may(.changePlan), !data.trialPlans.isEmpty {
            form(base + "/trial-start", confirm: t("confirm_start_trial"), classes: "card") {
                el("h3") { t("start_trial") }
                el("input", ["type": "hidden", "name": "key", "value": data.formKey + "_trial"])
                select(t("plan"), name: "plan", id: "f-trial-plan", options: data.trialPlans.map { ($0.id, $0.name) })
                select(
                    t("billing_interval"), name: "interval", id: "f-trial-interval",
                    options: [("month", t("interval_month")), ("year", t("interval_year"))])
                select(t("currency"), name: "currency", id: "f-trial-currency", options: data.currencies.map(\.code))
                el("button", ["type": "submit"]) { t("start_trial") }
            }
        }
        if may(.manageInvoices), !data.creditPacks.isEmpty {
            form(base + "/credit-packs", confirm: t("confirm_sell_credit_pack"), classes: "card") {
                el("h3") { t("sell_credit_pack") }
                el("input", ["type": "hidden", "name": "key", "value": data.formKey + "_pack"])
                select(
                    t("credit_pack"), name: "pack", id: "f-pack",
                    options: data.creditPacks.map { pack in
                        (pack.id, "\(pack.name) · \(money(pack.price.amountMinor, pack.price.currency))")
                    })
                el("button", ["type": "submit"]) { t("sell_credit_pack") }
            }
        }
        if may(.grantCredits), !data.creditTypes.isEmpty {
            form(base + "/credits", confirm: t("confirm_grant_credits"), classes: "card") {
                el("h3") { t("grant_credits") }
                el("input", ["type": "hidden", "name": "key", "value": data.formKey])
                field(t("amount"), name: "amount", type: "number", required: true, extra: ["min": "1", "step": "1"])
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-credit-type"]) { t("credit_type") }
                    el("select", ["id": "f-credit-type", "name": "creditType"]) {
                        for type in data.creditTypes { el("option", ["value": type]) { type } }
                    }
                }
                el("button", ["type": "submit"]) { t("grant_credits") }
            }
        }
        if may(.extendTrial), data.subscriptions.contains(where: { $0.status == "trialing" }) {
            form(base + "/trial", confirm: t("confirm_extend_trial"), classes: "card") {
                el("h3") { t("extend_trial") }
                field(t("days"), name: "days", type: "number", required: true, extra: ["min": "1", "max": "365"])
                el("button", ["type": "submit"]) { t("extend_trial") }
            }
        }
        if may(.setSpendCap) {
            form(base + "/spend-cap", confirm: t("confirm_spend_cap"), classes: "card") {
                el("h3") { t("spend_cap") }
                field(
                    t("amount_empty_clears"), name: "amount", type: "text",
                    value: data.spendCap.map {
                        Money($0.amountMinor, $0.currency).description.split(separator: " ").first.map(String.init)
                            ?? ""
                    },
                    id: "f-cap-amount", extra: ["inputmode": "decimal"])
                el("div", ["class": "field"]) {
                    el("label", ["for": "f-cap-currency"]) { t("currency") }
                    el("select", ["id": "f-cap-currency", "name": "currency"]) {
                        for currency in data.currencies {
                            el(
                                "option",
                                ["value": currency.code, "selected": currency == data.spendCap?.currency ? "" : nil]
                            ) {
                                currency.code
                            }
                        }
                    }
                }
                el("button", ["type": "submit"]) { t("save") }
            }
        }
        if may(.cancelSubscription),
            data.subscriptions.contains(where: { ["trialing", "active", "past_due"].contains($0.status) })
        {
            form(base + "/cancel", confirm: t("confirm_cancel"), classes: "card danger") {
                el("h3") { t("cancel_subscription") }
                el("div", ["class": "field check"]) {
                    el("input", ["id": "f-now", "type": "checkbox", "name": "now", "value": "true"])
                    el("label", ["for": "f-now"]) { t("cancel_now") }
                }
                el("button", ["type": "submit", "class": "danger"]) { t("cancel_subscription") }
            }
        }
    }

    /// A labelled choice among `options` (value, label).
    func select(_ label: String, name: String, id: String, options: [(String, String)]) -> HTML {
        el("div", ["class": "field"]) {
            el("label", ["for": id]) { label }
            el("select", ["id": id, "name": name]) {
                for (value, text) in options { el("option", ["value": value]) { text } }
            }
        }
    }

    func select(_ label: String, name: String, id: String, options: [String]) -> HTML {
        select(label, name: name, id: id, options: options.map { ($0, $0) })
    }

    /// One meter per quota: used / limit, a bar, and when it resets (or that it never does).
    public func meterList(_ rows: [CustomerDetailData.UsageRow], id: String?) -> HTML {
        el("ul", ["class": "meters", "id": id]) {
            for row in rows {
                el("li", ["data-feature": row.feature, "class": row.level]) {
                    el("div", ["class": "meter-head"]) {
                        el("span") { row.featureName }
                        el("span", ["class": "used"]) {
                            row.limit.map { "\(number(row.used)) / \(number($0))" } ?? "\(number(row.used)) / ∞"
                        }
                    }
                    if let limit = row.limit, limit > 0 {
                        el(
                            "progress",
                            [
                                "value": String(min(row.used, limit)), "max": String(limit),
                                "aria-label": row.featureName,
                            ]
                        ) { "" }
                    }
                    el("div", ["class": "muted"]) {
                        if let resetsAt = row.resetsAt {
                            "\(t("resets_on")) \(Formats.time(resetsAt))"
                        } else if row.period == ResetPeriod.lifetime.rawValue {
                            t("never_resets")
                        }
                    }
                    if let upgrade = row.upgrade {
                        // Used up: a pack that never resets says so; either way, what lifts it.
                        el("p", ["class": "meter-upgrade"]) {
                            (row.period == ResetPeriod.lifetime.rawValue ? t("pack_used_up") : t("limit_reached"))
                                + " "
                            el("a", ["href": upgrade.link]) {
                                t("upgrade_to_plan").replacingOccurrences(of: "{plan}", with: upgrade.planName)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The invoices, each numbered one linked to its PDF.
    /// `actions`: on the console, whether the operator may act on invoices, and the form key that
    /// makes a credit note submitted twice one note.
    func invoiceTable(
        _ rows: [CustomerDetailData.InvoiceRow], documents: String = "/console/invoices/",
        actions: (allowed: Bool, formKey: String)? = nil
    ) -> HTML {
        let acting = actions?.allowed == true
        return table(
            ["invoice", "status", "total", "date", "due_date"] + (acting ? ["actions"] : []),
            cells: rows.map { row in
                let name = row.number ?? row.id
                let cells: [HTML] = [
                    row.hasDocument
                        ? el("a", ["href": "\(documents)\(Paths.segment(row.id)).pdf"]) { name } : .text(name),
                    .text(word("invoice_status", row.status)), .text(money(row.total.amountMinor, row.total.currency)),
                    .text(Formats.day(row.at)),
                    .text(row.status == "open" ? row.dueAt.map(Formats.day) ?? "—" : "—"),
                ]
                guard acting, let actions else { return cells }
                return cells + [invoiceActions(row, formKey: actions.formKey)]
            }, id: "invoices")
    }

    /// What an operator may do to an invoice: the transitions its status allows (finalize a draft;
    /// mark paid or void an open or uncollectible one), and a credit note while something of a
    /// finalized one is left to credit. A provider's invoice is changed in the provider's dashboard.
    func invoiceActions(_ row: CustomerDetailData.InvoiceRow, formKey: String) -> HTML {
        let base = "/console/invoices/\(Paths.segment(row.id))"
        let status = InvoiceStatus(rawValue: row.status)
        let buttons = [
            (InvoiceStatus.Transition.finalize, "finalize", "finalize", "confirm_finalize"),
            (.pay, "pay", "mark_paid", "confirm_mark_paid"), (.void, "void", "void", "confirm_void"),
        ].filter { status?.after($0.0) != nil }.map { (path: $0.1, label: $0.2, confirm: $0.3) }
        let credit = !row.fullyCredited && [InvoiceStatus.open, .paid, .uncollectible].contains { $0 == status }
        guard row.own, !buttons.isEmpty || credit else { return .text(row.own ? "—" : t("in_provider")) }
        return el("div", ["class": "row-actions"]) {
            for button in buttons {
                form("\(base)/\(button.path)", confirm: t(button.confirm), classes: "inline") {
                    el("button", ["type": "submit"]) { t(button.label) }
                }
            }
            if credit {
                form("\(base)/credit-notes", confirm: t("confirm_credit_note"), classes: "inline") {
                    el("input", ["type": "hidden", "name": "key", "value": "\(formKey)_\(row.id)"])
                    el("label", ["class": "visually-hidden", "for": "f-reason-\(row.id)"]) { t("reason") }
                    el("select", ["id": "f-reason-\(row.id)", "name": "reason"]) {
                        for reason in CreditNoting.reasons {
                            el("option", ["value": reason]) { word("credit_note_reason", reason) }
                        }
                    }
                    el("button", ["type": "submit"]) { t("credit_note") }
                }
            }
        }
    }

    /// What an empty list says: its own words where the lexicon has them ("Aucune facture"
    /// agrees with its noun), else "None".
    public func empty(_ id: String?) -> String {
        guard let id, Lexicon.knows("empty_" + id, locale: locale) else { return t("none") }
        return t("empty_" + id)
    }

    /// A plain table of text cells, or a line saying there is nothing.
    func table(_ headers: [String], rows: [[String]], id: String?) -> HTML {
        table(headers, cells: rows.map { $0.map(HTML.text) }, id: id)
    }

    /// The same, with cells that hold markup (a link).
    func table(_ headers: [String], cells rows: [[HTML]], id: String?) -> HTML {
        guard !rows.isEmpty else { return el("p", ["class": "empty", "id": id]) { empty(id) } }
        return el("div", ["class": "scroll"]) {
            el("table", ["id": id]) {
                el("thead") { el("tr") { for header in headers { el("th", ["scope": "col"]) { t(header) } } } }
                el("tbody") { for row in rows { el("tr") { for cell in row { el("td") { cell } } } } }
            }
        }
    }
}
