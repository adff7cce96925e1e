import Foundation
import TollgateCore

/// A webhook endpoint as the console lists it.
public struct WebhookEndpointRow: Sendable {
    public let id: String
    public let url: String
    public let description: String?
    /// Empty: every event type.
    public let eventTypes: [String]
    public let enabled: Bool
    /// `operator`, `gone` (it answered 410) or `failing` (five days of failures).
    public let disabledReason: String?
    public let failingSince: Date?
    public let createdAt: Date

    public init(
        id: String, url: String, description: String?, eventTypes: [String], enabled: Bool, disabledReason: String?,
        failingSince: Date?, createdAt: Date
    ) {
        self.id = id
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.failingSince = failingSince
        self.createdAt = createdAt
    }
}

extension ConsoleFrame {
    /// The endpoints, a form to add one, and each one's actions; a secret just made is shown once.
    public func webhooksPage(
        _ endpoints: [WebhookEndpointRow], eventTypes: [String], formKey: String,
        newSecret: (endpoint: String, secret: String)? = nil, notice: String? = nil
    ) -> String {
        page(title: t("webhook_endpoints")) {
            deliveryTabs(current: "webhook_endpoints")
            noticeLine(notice)
            if let newSecret {
                el("div", ["class": "notice", "role": "status"]) {
                    el("p") {
                        t("webhook_secret_shown_once").replacingOccurrences(of: "{id}", with: newSecret.endpoint)
                    }
                    el("code", ["id": "new-secret"]) { newSecret.secret }
                }
            }
            el("p", ["class": "muted"]) { t("webhooks_intro") }
            if endpoints.isEmpty {
                el("p", ["class": "empty", "id": "webhook-endpoints"]) { t("no_endpoints") }
            } else {
                el("div", ["class": "scroll"]) {
                    el("table", ["id": "webhook-endpoints"]) {
                        el("thead") {
                            el("tr") {
                                for key in ["url", "event_types", "status", "created", "actions"] {
                                    el("th", ["scope": "col"]) { t(key) }
                                }
                            }
                        }
                        el("tbody") { for endpoint in endpoints { endpointRow(endpoint) } }
                    }
                }
            }
            if may(.manageWebhooks) {
                form("/console/webhooks", classes: "card") {
                    el("h2") { t("add_endpoint") }
                    // A fresh key per drawing: the form sent twice makes one endpoint.
                    el("input", ["type": "hidden", "name": "key", "value": formKey])
                    field(t("url"), name: "url", type: "url", required: true, extra: ["placeholder": "https://"])
                    field(t("description"), name: "description")
                    el("fieldset", ["class": "event-types"]) {
                        el("legend") { t("event_types_none_means_all") }
                        for type in eventTypes {
                            el("div", ["class": "field check"]) {
                                el(
                                    "input",
                                    ["id": "type-\(type)", "type": "checkbox", "name": "eventType", "value": type])
                                el("label", ["for": "type-\(type)"]) { el("code") { type } }
                            }
                        }
                    }
                    el("button", ["type": "submit"]) { t("add_endpoint") }
                }
            }
        }
    }

    func endpointRow(_ endpoint: WebhookEndpointRow) -> HTML {
        let base = "/console/webhooks/\(Paths.segment(endpoint.id))"
        return el("tr", ["data-id": endpoint.id]) {
            el("td") {
                el("code", ["class": "recipient"]) { endpoint.url }
                if let description = endpoint.description { el("div", ["class": "muted"]) { description } }
                el("div") {
                    el("a", ["href": "/console/deliveries?endpoint=\(Paths.segment(endpoint.id))"]) {
                        t("see_deliveries")
                    }
                }
            }
            el("td") { endpoint.eventTypes.isEmpty ? t("all_events") : endpoint.eventTypes.joined(separator: ", ") }
            el("td") {
                if !endpoint.enabled {
                    el("span", ["class": "badge past_due"]) {
                        t("endpoint_disabled_" + (endpoint.disabledReason ?? "operator"))
                    }
                } else if let since = endpoint.failingSince {
                    el("span", ["class": "badge trialing"]) { "\(t("endpoint_failing_since")) \(Formats.time(since))" }
                } else {
                    el("span", ["class": "badge active"]) { t("endpoint_enabled") }
                }
            }
            el("td") { Formats.day(endpoint.createdAt) }
            el("td") {
                if may(.manageWebhooks) {
                    el("div", ["class": "row-actions"]) {
                        form(base + (endpoint.enabled ? "/disable" : "/enable"), classes: "inline") {
                            el("button", ["type": "submit"]) { endpoint.enabled ? t("disable") : t("enable") }
                        }
                        form(base + "/rotate-secret", confirm: t("confirm_rotate_webhook_secret"), classes: "inline") {
                            el("button", ["type": "submit"]) { t("rotate_secret") }
                        }
                        form(base + "/delete", confirm: t("confirm_delete_endpoint"), classes: "inline") {
                            el("button", ["type": "submit", "class": "danger"]) { t("delete") }
                        }
                    }
                }
            }
        }
    }
}
