/// What the people running the SaaS may do in the console. Roles are cumulative from `viewer`
/// up; only an `owner` manages the other operators.
public enum OperatorRole: String, Sendable, Codable, CaseIterable, Comparable {
    case viewer
    case support
    case admin
    case owner

    public static func < (lhs: OperatorRole, rhs: OperatorRole) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .viewer: return 0
        case .support: return 1
        case .admin: return 2
        case .owner: return 3
        }
    }

    public func may(_ action: OperatorAction) -> Bool { self >= action.minimumRole }
}

/// Everything an operator can do in the console, each with the least role allowed to do it.
public enum OperatorAction: String, Sendable, CaseIterable {
    case read
    case grantCredits = "grant_credits"
    case extendTrial = "extend_trial"
    case changePlan = "change_plan"
    case setSpendCap = "set_spend_cap"
    case cancelSubscription = "cancel_subscription"
    case retryDelivery = "retry_delivery"
    /// Finalize, mark paid, void and credit Tollgate's own invoices.
    case manageInvoices = "manage_invoices"
    /// Add, change and remove webhook endpoints.
    case manageWebhooks = "manage_webhooks"
    case manageAPIKeys = "manage_api_keys"
    case manageOperators = "manage_operators"
    /// The audit trail names end users' addresses: admins and owners.
    case viewAudit = "view_audit"

    public var minimumRole: OperatorRole {
        switch self {
        case .read: return .viewer
        case .grantCredits, .extendTrial: return .support
        case .changePlan, .setSpendCap, .cancelSubscription, .retryDelivery, .manageAPIKeys, .viewAudit,
            .manageInvoices, .manageWebhooks:
            return .admin
        case .manageOperators: return .owner
        }
    }
}
