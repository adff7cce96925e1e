import Foundation
import TollgateCore

/// The workspaces an end user belongs to, with what their role lets them do there:
/// a form is drawn only for a role that may use it, and the server checks again.
public struct PortalWorkspaceData: Sendable {
    public struct Member: Sendable {
        public let userId: String
        public let email: String
        public let role: WorkspaceRole

        public init(userId: String, email: String, role: WorkspaceRole) {
            self.userId = userId
            self.email = email
            self.role = role
        }
    }

    public struct Space: Sendable {
        public let id: String
        public let name: String
        public let role: WorkspaceRole
        /// Every member reads them; managing them is for the roles that may.
        public let members: [Member]
        public let seatLimit: Int?
        /// The workspace's own plan (name).
        public var planName: String = ""
        /// Invitations not yet taken: each holds a seat.
        public var pending: [PendingInvitation] = []
        /// What to buy for more seats: a plan's id and name, and its seats (nil: unbounded).
        public var seatUpgrade: (planId: String, planName: String, seats: Int?)?

        public init(id: String, name: String, role: WorkspaceRole, members: [Member], seatLimit: Int?) {
            self.id = id
            self.name = name
            self.role = role
            self.members = members
            self.seatLimit = seatLimit
        }

        /// Members and pending invitations.
        public var seatsTaken: Int { members.count + pending.count }
        public var seatsFull: Bool { seatLimit.map { seatsTaken >= $0 } ?? false }
    }

    public struct PendingInvitation: Sendable {
        public let email: String
        public let role: WorkspaceRole
        public let expiresAt: Date

        public init(email: String, role: WorkspaceRole, expiresAt: Date) {
            self.email = email
            self.role = role
            self.expiresAt = expiresAt
        }
    }

    public var spaces: [Space]
    public var userId: String

    public init(spaces: [Space], userId: String) {
        self.spaces = spaces
        self.userId = userId
    }
}

extension ConsoleFrame {
    public func portalWorkspacePage(_ data: PortalWorkspaceData, notice: String? = nil, error: String? = nil) -> String
    {
        page(title: t("workspaces")) {
            noticeLine(notice)
            alert(error)
            if data.spaces.isEmpty { el("p", ["class": "empty"]) { t("no_workspace") } }
            for space in data.spaces { workspaceSection(space, userId: data.userId) }
            el("section", ["aria-labelledby": "h-new-workspace"]) {
                el("h2", ["id": "h-new-workspace"]) { t("new_workspace") }
                el("p", ["class": "muted", "id": "workspace-rule"]) { t("workspace_own_plan") }
                form("/portal/workspaces", classes: "card narrow") {
                    field(t("name"), name: "name", required: true)
                    el("button", ["type": "submit", "id": "create-workspace"]) { t("create") }
                }
            }
        }
    }

    func workspaceSection(_ space: PortalWorkspaceData.Space, userId: String) -> HTML {
        let base = "/portal/workspaces/" + Paths.segment(space.id)
        return el("section", ["aria-labelledby": "h-ws-\(space.id)", "class": "workspace", "data-workspace": space.id])
        {
            el("h2", ["id": "h-ws-\(space.id)"]) { space.name }
            el("p", ["class": "muted"]) {
                "\(t("your_role")) \(t("ws_role_" + space.role.rawValue)) · \(t("workspace_plan_is")) "
                el("strong", ["class": "workspace-plan"]) { space.planName }
            }
            if space.role.may(.manageBilling) {
                el("p") {
                    el("a", ["class": "button", "href": "/portal/upgrade?workspace=" + Paths.segment(space.id)]) {
                        t("workspace_plan")
                    }
                }
            }
            // Seats and invitations for those who manage the members; the members for everyone.
            if space.role.may(.listMembers) {
                el("p", ["class": "seats"]) {
                    "\(t("seats_used")) \(number(space.seatsTaken))"
                        + (space.seatLimit.map { " / \(number($0))" } ?? " / ∞")
                        + (space.pending.isEmpty ? "" : " (\(t("seats_pending")) \(number(space.pending.count)))")
                }
            }
            memberTable(space.members, space: space, base: base, userId: userId)
            if !space.pending.isEmpty { pendingTable(space) }
            let grantable = WorkspaceRole.allCases.filter { space.role.mayGrant($0) }
            if !grantable.isEmpty && space.seatsFull {
                // No form that cannot succeed: what to buy instead, and who can.
                seatsFull(space)
            } else if !grantable.isEmpty {
                form(base + "/invite", classes: "card narrow") {
                    el("h3") { t("invite_member") }
                    field(t("email"), name: "email", type: "email", required: true)
                    roleSelect(grantable, selected: .member, id: "invite-role-\(space.id)")
                    el("button", ["type": "submit", "class": "invite"]) { t("invite") }
                }
            }
            if space.role.may(.transferOwnership), case let others = space.members.filter({ $0.userId != userId }),
                !others.isEmpty
            {
                form(base + "/transfer", confirm: t("confirm_transfer"), classes: "card narrow") {
                    el("h3") { t("transfer_ownership") }
                    el("label", ["for": "transfer-\(space.id)"]) { t("new_owner") }
                    el("select", ["name": "userId", "id": "transfer-\(space.id)"]) {
                        for member in others { el("option", ["value": member.userId]) { member.email } }
                    }
                    el("button", ["type": "submit"]) { t("transfer_ownership") }
                }
            }
        }
    }

    func seatsFull(_ space: PortalWorkspaceData.Space) -> HTML {
        el("div", ["class": "notice", "id": "seats-full-\(space.id)"]) {
            el("p") {
                "\(t("seats_full")) \(space.planName), \(t("seats_full_allows")) \(number(space.seatLimit ?? 0)) "
                    + "\(t(space.seatLimit == 1 ? "seat" : "seats"))."

            }
            if let upgrade = space.seatUpgrade {
                el("p", ["class": "seat-offer"]) {
                    "\(upgrade.planName): \(upgrade.seats.map { number($0) } ?? t("unlimited")) \(t("seats_offer"))."
                }
                if space.role.may(.manageBilling) {
                    el(
                        "a",
                        [
                            "class": "button", "id": "buy-seats-\(space.id)",
                            "href": "/portal/upgrade"
                                + Paths.query([("workspace", space.id), ("plan", upgrade.planId)]),
                        ]
                    ) { "\(t("upgrade_workspace_to")) \(upgrade.planName)" }
                } else {
                    el("p", ["class": "muted"]) { t("ask_owner") }
                }
            } else {
                el("p") { t("contact_sales_text") }
            }
        }
    }

    func pendingTable(_ space: PortalWorkspaceData.Space) -> HTML {
        el("div", ["class": "scroll"]) {
            el("table", ["class": "invitations", "id": "pending-\(space.id)"]) {
                el("caption") { t("pending_invitations") }
                el("thead") {
                    el("tr") {
                        el("th", ["scope": "col"]) { t("email") }
                        el("th", ["scope": "col"]) { t("role") }
                        el("th", ["scope": "col"]) { t("invitation_expires") }
                    }
                }
                el("tbody") {
                    for invitation in space.pending {
                        el("tr") {
                            el("td") { invitation.email }
                            el("td") { t("ws_role_" + invitation.role.rawValue) }
                            el("td") { Formats.day(invitation.expiresAt) }
                        }
                    }
                }
            }
        }
    }

    func memberTable(
        _ members: [PortalWorkspaceData.Member], space: PortalWorkspaceData.Space, base: String, userId: String
    )
        -> HTML
    {
        el("div", ["class": "scroll"]) {
            el("table", ["class": "members"]) {
                el("thead") {
                    el("tr") {
                        el("th", ["scope": "col"]) { t("email") }
                        el("th", ["scope": "col"]) { t("role") }
                        el("th", ["scope": "col"]) { t("actions") }
                    }
                }
                el("tbody") {
                    for member in members {
                        let memberBase = base + "/members/" + Paths.segment(member.userId)
                        el("tr") {
                            el("td") { member.email }
                            el("td") { t("ws_role_" + member.role.rawValue) }
                            el("td") {
                                if member.userId != userId, space.role.may(.changeRole), member.role != .owner {
                                    form(memberBase + "/role", classes: "inline") {
                                        roleSelect(
                                            [.admin, .member, .viewer], selected: member.role,
                                            id: "role-\(space.id)-\(member.userId)")
                                        el("button", ["type": "submit"]) { t("change_role") }
                                    }
                                }
                                if member.userId != userId, space.role.mayRemove(member.role) {
                                    form(memberBase + "/remove", confirm: t("confirm_remove"), classes: "inline") {
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

    func roleSelect(_ roles: [WorkspaceRole], selected: WorkspaceRole, id: String) -> HTML {
        el("div", ["class": "field"]) {
            el("label", ["for": id]) { t("role") }
            el("select", ["name": "role", "id": id]) {
                for role in roles {
                    el("option", ["value": role.rawValue, "selected": role == selected ? "" : nil]) {
                        t("ws_role_" + role.rawValue)
                    }
                }
            }
        }
    }

    /// What an invitation link opens: whose workspace, and a button to join it.
    /// `offer`: the workspace's name, the role and the inviter, when the token is a pending
    /// invitation (looked up, never read from the link).
    public func portalJoinPage(
        workspaceId: String, token: String, offer: (workspace: String, role: WorkspaceRole, inviter: String?)? = nil
    ) -> String {
        page(title: offer.map { "\(t("join_workspace")) — \($0.workspace)" } ?? t("join_workspace")) {
            if let offer {
                el("p", ["id": "invitation"]) {
                    (offer.inviter.map { "\($0) \(t("invites_you_to")) " } ?? "\(t("invited_to")) ")
                    el("strong") { offer.workspace }
                    " \(t("as_role")) \(t("ws_role_" + offer.role.rawValue))."
                }
            }
            el("p") { t("join_intro") }
            form("/portal/join", classes: "card narrow") {
                el("input", ["type": "hidden", "name": "workspace", "value": workspaceId])
                el("input", ["type": "hidden", "name": "token", "value": token])
                el("button", ["type": "submit", "id": "join"]) { t("join_workspace") }
            }
        }
    }
}
