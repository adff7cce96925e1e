import Foundation
import TollgateCore

/// An e-mail or a webhook message, as the deliveries page lists it.
public struct DeliveryRow: Sendable {
    public enum State: Sendable {
        case waiting
        case retry(at: Date)
        case failed(at: Date)
        case delivered(at: Date)
    }

    /// What an operator may do with it: send a failed or retried message now, or a delivered
    /// webhook message again. Nothing for mail already sent, or for an endpoint that is gone.
    public enum Action: Sendable {
        case retryNow
        case sendAgain
    }

    public let id: String
    /// `email` or `webhook`.
    public let channel: String
    /// The mail's kind (`invoice_issued`) or the webhook's event type (`invoice.paid`).
    public let topic: String
    /// The address, or the endpoint's URL.
    public let to: String
    public let createdAt: Date
    public let attempts: Int
    public let state: State
    public let lastError: String?
    public let action: Action?

    public init(
        id: String, channel: String, topic: String, to: String, createdAt: Date, attempts: Int, state: State,
        lastError: String?, action: Action?
    ) {
        self.id = id
        self.channel = channel
        self.topic = topic
        self.to = to
        self.createdAt = createdAt
        self.attempts = attempts
        self.state = state
        self.lastError = lastError
        self.action = action
    }
}

/// A page of deliveries with the filters that made it.
public struct DeliveryPageData: Sendable {
    public var rows: [DeliveryRow]
    public var state = ""
    public var channel = ""
    public var endpoint = ""
    public var eventType = ""
    /// The endpoints to filter by: their URLs for who may manage them, else their ids.
    public var endpoints: [(id: String, url: String)] = []
    public var eventTypes: [String] = []
    public var nextPage: String?
    public var notice: String?

    public init(rows: [DeliveryRow]) { self.rows = rows }
}

/// Why a delivery failed, in words a person reads: the sender's reasons are written for logs
/// ("no answer: HTTPClientError.connectTimeout"); the raw reason stays in the cell's title.
public enum DeliveryErrorWords {
    /// The lexicon key (`delivery_error_<key>`) and, for an HTTP answer, its status.
    public static func describe(_ reason: String) -> (key: String, status: String?)? {
        let lowered = reason.lowercased()
        if let range = lowered.range(of: "answered "),
            let status = Int(lowered[range.upperBound...].prefix(3)), (100...599).contains(status)
        {
            if status == 410 { return ("gone", "410") }
            return (status >= 500 ? "server_error" : "refused_by_receiver", String(status))
        }
        // An SMTP reply (`550 no such mailbox`): the server's refusal, with its code.
        if let code = Int(reason.prefix(3)), (400...599).contains(code), reason.dropFirst(3).first == " " {
            return ("mail_rejected", String(code))
        }
        let patterns: [(String, [String])] = [
            ("endpoint_deleted", ["endpoint was deleted"]),
            ("endpoint_disabled", ["endpoint is disabled"]),
            ("url_refused", ["refused: the url"]),
            ("timeout", ["timeout", "timed out", "deadlineexceeded"]),
            ("connection_refused", ["connection refused", "econnrefused"]),
            ("name_unknown", ["nodename nor servname", "name or service not known", "no address", "dns"]),
            ("tls", ["tls", "ssl", "certificate"]),
            ("mail_server_unreachable", ["cannot connect to"]),
            ("mail_server_refused", ["smtp"]),
            ("unreadable", ["no e-mail for kind", "is not a json object", "carries no readable token"]),
            ("no_answer", ["no answer"]),
        ]
        for (key, needles) in patterns where needles.contains(where: { lowered.contains($0) }) {
            return (key, nil)
        }
        return nil
    }
}

extension ConsoleFrame {
    public func deliveriesPage(_ data: DeliveryPageData) -> String {
        page(title: t("deliveries")) {
            deliveryTabs(current: "deliveries")
            noticeLine(data.notice)
            el("p", ["class": "muted"]) { t("deliveries_intro") }
            el("form", ["method": "get", "action": "/console/deliveries", "class": "filters", "role": "search"]) {
                select(
                    t("status"), name: "state", selected: data.state,
                    options: [("", t("all"))] + ["failed", "pending", "delivered"].map { ($0, t("deliveries_" + $0)) })
                select(
                    t("channel"), name: "channel", selected: data.channel,
                    options: [("", t("all"))]
                        + ["email", "webhook", "event"].map { ($0, t("channel_" + $0)) })
                select(
                    t("webhook_endpoint"), name: "endpoint", selected: data.endpoint,
                    options: [("", t("all"))] + data.endpoints.map { ($0.id, $0.url) })
                select(
                    t("event_type"), name: "type", selected: data.eventType,
                    options: [("", t("all"))] + data.eventTypes.map { ($0, $0) })
                el("button", ["type": "submit"]) { t("apply") }
            }
            deliveryTable(data.rows)
            if let next = data.nextPage {
                el("p") { el("a", ["href": next, "rel": "next"]) { t("next_page") } }
            }
        }
    }

    /// The messages and the endpoints they go to: two pages of one section.
    func deliveryTabs(current: String) -> HTML {
        el("nav", ["class": "pills", "aria-label": t("deliveries")]) {
            let pages =
                [("deliveries", "/console/deliveries")]
                + (may(.manageWebhooks) ? [("webhook_endpoints", "/console/webhooks")] : [])
            for (key, path) in pages {
                el("a", ["href": path, "aria-current": key == current ? "page" : nil]) { t(key) }
            }
        }
    }

    func deliveryTable(_ rows: [DeliveryRow]) -> HTML {
        guard !rows.isEmpty else { return el("p", ["class": "empty", "id": "deliveries"]) { t("none") } }
        return el("div", ["class": "scroll"]) {
            el("table", ["id": "deliveries"]) {
                el("thead") {
                    el("tr") {
                        for key in ["time", "message", "recipient", "attempts", "status", "last_error", "actions"] {
                            el("th", ["scope": "col"]) { t(key) }
                        }
                    }
                }
                el("tbody") {
                    for row in rows {
                        el("tr", ["data-id": row.id]) {
                            el("td") { Formats.time(row.createdAt) }
                            el("td") {
                                if row.channel != "email" {
                                    el("code") { row.topic }
                                } else {
                                    word("mail", row.topic)
                                }
                                el("div", ["class": "muted"]) { t("channel_" + row.channel) }
                            }
                            el("td", ["class": "recipient"]) { row.to }
                            el("td", ["class": "num"]) { number(row.attempts) }
                            el("td") { deliveryState(row.state) }
                            el("td", ["title": row.lastError]) { row.lastError.map(errorWords) ?? "" }
                            el("td") { deliveryAction(row) }
                        }
                    }
                }
            }
        }
    }

    func deliveryAction(_ row: DeliveryRow) -> HTML {
        guard let action = row.action, may(.retryDelivery) else { return .empty }
        let label = action == .retryNow ? t("retry_now") : t("send_again")
        return form(
            "/console/deliveries/\(Paths.segment(row.id))/retry",
            confirm: action == .sendAgain ? t("confirm_send_again") : nil, classes: "inline"
        ) {
            el("button", ["type": "submit"]) { label }
        }
    }

    /// A failure's reason in words (the raw reason when it is none the page knows).
    public func errorWords(_ reason: String) -> String {
        guard let (key, status) = DeliveryErrorWords.describe(reason) else { return reason }
        return t("delivery_error_" + key).replacingOccurrences(of: "{status}", with: status ?? "")
    }

    func deliveryState(_ state: DeliveryRow.State) -> String {
        switch state {
        case .waiting: return t("delivery_waiting")
        case .retry(let at): return "\(t("delivery_retry")) \(Formats.time(at))"
        case .failed(let at): return "\(t("delivery_failed")) \(Formats.time(at))"
        case .delivered(let at): return "\(t("delivery_delivered")) \(Formats.time(at))"
        }
    }

    /// A labelled drop-down list.
    func select(_ label: String, name: String, selected: String, options: [(value: String, text: String)]) -> HTML {
        el("div", ["class": "field"]) {
            el("label", ["for": "f-\(name)"]) { label }
            el("select", ["id": "f-\(name)", "name": name]) {
                for option in options {
                    el("option", ["value": option.value, "selected": option.value == selected ? "" : nil]) {
                        option.text
                    }
                }
            }
        }
    }
}
