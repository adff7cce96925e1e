import Foundation
import TollgateCore

/// A person who runs the SaaS, signed in to the console. Set up from a one-time link: until then
/// there is no password and no TOTP secret, only the digest of the link's token.
public struct OperatorRecord: Sendable, Hashable {
    public var id: String
    public var email: String
    public var role: OperatorRole
    public var passwordHash: String?
    /// The TOTP secret, sealed with the master key.
    public var sealedTOTPSecret: String?
    public var setupTokenDigest: String?
    public var setupExpiresAt: Date?
    public var createdAt: Date

    public init(
        id: String, email: String, role: OperatorRole, passwordHash: String? = nil, sealedTOTPSecret: String? = nil,
        setupTokenDigest: String? = nil, setupExpiresAt: Date? = nil, createdAt: Date
    ) {
        self.id = id
        self.email = email
        self.role = role
        self.passwordHash = passwordHash
        self.sealedTOTPSecret = sealedTOTPSecret
        self.setupTokenDigest = setupTokenDigest
        self.setupExpiresAt = setupExpiresAt
        self.createdAt = createdAt
    }

    public var isSetUp: Bool { passwordHash != nil && sealedTOTPSecret != nil }
}

/// A console session: the cookie carries the token, the store its digest. The CSRF token goes
/// in every form of the session's pages.
public struct OperatorSessionRecord: Sendable, Hashable {
    public let digest: String
    public let operatorId: String
    public let csrfToken: String
    public let createdAt: Date
    public var lastSeenAt: Date

    public init(digest: String, operatorId: String, csrfToken: String, createdAt: Date, lastSeenAt: Date) {
        self.digest = digest
        self.operatorId = operatorId
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

public protocol OperatorStore: Sendable {
    /// False when an operator has this e-mail address already.
    func createOperator(_ record: OperatorRecord) async throws -> Bool
    func operatorAccount(id: String) async throws -> OperatorRecord?
    func operatorAccount(email: String) async throws -> OperatorRecord?
    func operatorAccount(setupTokenDigest: String) async throws -> OperatorRecord?
    func operatorAccounts() async throws -> [OperatorRecord]
    /// Sets the password and TOTP secret and spends the setup token; false when the token was
    /// spent already (two tabs, a replay).
    func completeOperatorSetup(id: String, setupTokenDigest: String, passwordHash: String, sealedTOTPSecret: String)
        async throws -> Bool
    /// Changes a role unless it would leave no owner; nil when there is no such operator.
    func setOperatorRole(id: String, role: OperatorRole) async throws -> OperatorRoleChange?
    /// Removes an operator and their sessions unless it would leave no owner.
    func deleteOperator(id: String) async throws -> OperatorRoleChange?
    /// Spends a TOTP step: false when this step or a later one was used already (a replayed code).
    func spendOperatorTOTPStep(id: String, step: Int64) async throws -> Bool
    func createOperatorSession(_ session: OperatorSessionRecord) async throws
    func operatorSession(digest: String) async throws -> OperatorSessionRecord?
    func touchOperatorSession(digest: String, at: Date) async throws
    func deleteOperatorSession(digest: String) async throws
}

/// The outcome of changing or removing an operator.
public enum OperatorRoleChange: Sendable, Hashable {
    case done(before: OperatorRecord)
    /// The last owner cannot be demoted or removed.
    case lastOwner
}

/// Which customers a listing shows, and in which order (`GET /v1/customers`, the console).
public struct CustomerQuery: Sendable, Hashable {
    public enum Sort: String, Sendable, CaseIterable {
        case created = "-created"
        case createdAscending = "created"
        case id
        case email
    }

    /// A plan's quota of a feature, for "near a limit".
    public struct Quota: Sendable, Hashable {
        public let planId: String
        public let feature: String
        public let limit: Int64

        public init(planId: String, feature: String, limit: Int64) {
            self.planId = planId
            self.feature = feature
            self.limit = limit
        }
    }

    /// Matched against the id (exact or prefix), the e-mail and the name (anywhere, any case).
    public var text: String?
    public var planId: String?
    public var status: CustomerStatus?
    /// Only customers using at least 80 % of one of `quotas` in a current period.
    public var nearLimit = false
    public var quotas: [Quota] = []
    public var now = Date()
    public var sort = Sort.created
    /// The sort value and id of the last customer of the previous page.
    public var after: CustomerCursor?
    public var limit = 50

    public init() {}
}

/// Where a page of customers ends: the sort key and the id of its last row.
public struct CustomerCursor: Sendable, Hashable {
    public let key: String
    public let id: String

    public init(key: String, id: String) {
        self.key = key
        self.id = id
    }
}

/// A customer as listed, with its current status.
public struct CustomerListing: Sendable, Hashable {
    public let customer: CustomerRecord
    public let status: CustomerStatus

    public init(customer: CustomerRecord, status: CustomerStatus) {
        self.customer = customer
        self.status = status
    }
}

public protocol CustomerListingStore: Sendable {
    /// Up to `query.limit` customers after `query.after`, in `query.sort` order.
    func listCustomers(_ query: CustomerQuery) async throws -> [CustomerListing]
    /// The customer's current status; nil when there is no such customer.
    func customerStatus(id: String) async throws -> CustomerStatus?
    /// How many customers there are in each current status.
    func customerCountsByStatus() async throws -> [CustomerStatus: Int]
    /// How many customers were created in each [edges[i], edges[i+1]).
    func signUpCounts(edges: [Date]) async throws -> [Int]
    /// The customer's recorded states (plan and status), newest first.
    func customerHistory(id: String, limit: Int) async throws -> [(at: Date, planId: String, status: String)]
    /// Per plan quota, how many customers on the plan have used all of it in a current period
    /// (the counters, whether or not a consume was refused yet).
    func customersAtLimit(_ quotas: [CustomerQuery.Quota], now: Date) async throws -> [CustomerQuery.Quota: Int]
    /// The customer's refused consumes per day, feature and reason, newest first.
    func recentRefusals(customerId: String, limit: Int) async throws
        -> [(day: Date, feature: String, reason: String, count: Int64)]
}
