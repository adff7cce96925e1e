import Foundation
import TollgateStorage

/// The console's view of the audit trail: newest first, filtered by actor, target and action.
public struct AuditPageData: Sendable {
    public let events: [AuditEvent]
    public let actor: String
    public let target: String
    public let action: String
    public let nextPage: String?
    /// Actors in words (an e-mail, a key's name), where known.
    public var actorNames: [AuditActor: String] = [:]

    public init(events: [AuditEvent], actor: String, target: String, action: String, nextPage: String?) {
        self.events = events
        self.actor = actor
        self.target = target
        self.action = action
        self.nextPage = nextPage
    }
}

extension ConsoleFrame {
    public func auditPage(_ data: AuditPageData) -> String {
        page(title: t("audit")) {
            el("p", ["class": "muted"]) { t("audit_intro") }
            el("form", ["method": "get", "action": "/console/audit", "class": "filters", "role": "search"]) {
                field(t("audit_actor"), name: "actor", type: "search", value: data.actor)
                field(t("audit_target"), name: "target", type: "search", value: data.target)
                field(t("audit_action"), name: "action", type: "search", value: data.action)
                el("button", ["type": "submit"]) { t("apply") }
            }
            if data.events.isEmpty {
                el("p", ["class": "empty", "id": "audit"]) { t("none") }
            } else {
                el("div", ["class": "scroll"]) {
                    el("table", ["id": "audit"]) {
                        el("thead") {
                            el("tr") {
                                for key in [
                                    "audit_when", "audit_actor", "audit_action", "audit_target", "ip", "audit_change",
                                ] {
                                    el("th", ["scope": "col"]) { t(key) }
                                }
                            }
                        }
                        el("tbody") {
                            for event in data.events {
                                el("tr") {
                                    el("td") { Formats.time(event.draft.at) }
                                    el("td", ["class": "actor"]) {
                                        if let name = data.actorNames[event.draft.actor] {
                                            el("span", ["class": "actor-name"]) { name }
                                            " "
                                        }
                                        el("code", ["class": "muted"]) {
                                            event.draft.actor.kind.rawValue
                                                + (event.draft.actor.id.map { ":" + $0 } ?? "")
                                        }
                                    }
                                    el("td") { el("code") { event.draft.action } }
                                    el("td") { el("code") { event.draft.target ?? "" } }
                                    el("td") { event.draft.ip ?? "" }
                                    el("td") {
                                        if event.draft.before != nil || event.draft.after != nil {
                                            el("code") { event.draft.before ?? "–" }
                                            " → "
                                            el("code") { event.draft.after ?? "–" }
                                        }
                                    }
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
