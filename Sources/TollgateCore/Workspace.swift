/// Roles in a workspace. Exactly one owner.
public enum WorkspaceRole: String, Sendable, Codable, CaseIterable, Comparable {
    case owner = "OWNER"
    case admin = "ADMIN"
    case member = "MEMBER"
    case viewer = "VIEWER"

    private var rank: Int {
        switch self {
        case .owner: return 3
        case .admin: return 2
        case .member: return 1
        case .viewer: return 0
        }
    }

    public static func < (lhs: WorkspaceRole, rhs: WorkspaceRole) -> Bool { lhs.rank < rhs.rank }

    /// The permission matrix: which role may do what in a workspace.
    public func may(_ action: WorkspaceAction) -> Bool {
        switch action {
        case .list, .leave: return true
        case .useFeatures: return self >= .member
        case .view, .listMembers, .invite, .removeMember, .rename, .viewQuota: return self >= .admin
        case .changeRole, .delete, .transferOwnership, .manageBilling, .viewAuditLog: return self == .owner
        }
    }
}

extension WorkspaceRole {
    /// Whether a member with this role may give `role` to someone by invitation: never more than
    /// one's own power (an ADMIN invites MEMBERs and VIEWERs; the OWNER anyone
    /// but another owner).
    public func mayGrant(_ role: WorkspaceRole) -> Bool {
        may(.invite) && role != .owner && (self == .owner || role < self)
    }

    /// Whether a member with this role may remove a member holding `role`: the OWNER anyone but
    /// the owner, an ADMIN only those below ADMIN.
    public func mayRemove(_ role: WorkspaceRole) -> Bool {
        may(.removeMember) && role != .owner && (self == .owner || role < self)
    }
}

public enum WorkspaceAction: String, Sendable, CaseIterable {
    case list, leave, view, listMembers, invite, removeMember, changeRole, rename, delete, transferOwnership, viewQuota,
        useFeatures, manageBilling, viewAuditLog
}

/// How many members a workspace may have.
public enum Seats {
    /// The feature that counts collaborators besides the owner.
    public static let collaboratorsFeature = "collaborators"

    /// Nil when unbounded. A plan priced per seat allows the seats bought (at least its minimum);
    /// any other plan allows the owner plus its `collaborators` limit and seat add-ons.
    public static func limit(catalog: Catalog, plan: Plan, addOnQuantities: [String: Int], purchasedSeats: Int?) -> Int?
    {
        if let perSeat = plan.prices.first(where: { $0.perSeatAmount != nil }) {
            return max(perSeat.minimumSeats ?? 1, purchasedSeats ?? 0)
        }
        guard let feature = catalog.feature(collaboratorsFeature) else { return nil }
        let anchor = PeriodWindow.lifetime.start
        let quota = Entitlements.quota(
            catalog: catalog, plan: plan, feature: feature, addOnQuantities: addOnQuantities, now: anchor,
            anchor: anchor)
        return quota.limit?.value.map { 1 + Int($0) }
    }

    /// What to buy for more seats than `limit`: the first plan up the ladder that allows more,
    /// with its seats (nil: unbounded). A workspace has a plan of its own (the
    /// OWNER upgrades the workspace), so this is the workspace's plan, never its owner's.
    public static func upgrade(catalog: Catalog, from plan: Plan, beyond limit: Int) -> (Plan, seats: Int?)? {
        catalog.plans.sorted { ($0.order, $0.id) < ($1.order, $1.id) }.lazy
            .filter { $0.order > plan.order }
            .map { ($0, seats: Self.limit(catalog: catalog, plan: $0, addOnQuantities: [:], purchasedSeats: nil)) }
            .first { $0.seats.map { $0 > limit } ?? true }
    }
}
