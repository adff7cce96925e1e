import Foundation
import TollgateCore

/// Everything the console shows of one customer.
public struct CustomerDetailData: Sendable {
    public struct SubscriptionRow: Sendable {
        public let id: String
        public let provider: String
        public let planName: String
        public let status: String
        public let interval: String
        public let periodEnd: Date
        public let trialEnd: Date?
        public let cancelAtPeriodEnd: Bool
        /// What a period costs (the plan's price, times the seats for a per-seat plan).
        public var amount: Money?
        public var seats: Int?
        /// The plan a downgrade moves it to when the period ends.
        public var pendingPlanName: String?

        public init(
            id: String, provider: String, planName: String, status: String, interval: String, periodEnd: Date,
            trialEnd: Date?, cancelAtPeriodEnd: Bool
        ) {
            self.id = id
            self.provider = provider
            self.planName = planName
            self.status = status
            self.interval = interval
            self.periodEnd = periodEnd
            self.trialEnd = trialEnd
            self.cancelAtPeriodEnd = cancelAtPeriodEnd
        }
    }

    public struct UsageRow: Sendable {
        public let feature: String
        public let featureName: String
        public let used: Int64
        public let limit: Int64?
        public let period: String?
        public let resetsAt: Date?
        /// At the limit on the portal: the plan that lifts it, and its paywall.
        public var upgrade: (planName: String, link: String)?

        /// `full` at the limit, `near` from 90 % of it (drawn in a warning colour), else nil.
        public var level: String? {
            guard let limit, limit > 0 else { return nil }
            if used >= limit { return "full" }
            // used ≥ 90 % of limit, in integers (catalog limits are far below Int64.max / 9; a
            // usage so large that ×10 overflows is past any limit).
            let (scaled, overflow) = used.multipliedReportingOverflow(by: 10)
            return overflow || scaled >= limit * 9 ? "near" : nil
        }

        public init(feature: String, featureName: String, used: Int64, limit: Int64?, period: String?, resetsAt: Date?)
        {
            self.feature = feature
            self.featureName = featureName
            self.used = used
            self.limit = limit
            self.period = period
            self.resetsAt = resetsAt
        }
    }

    public struct LedgerRow: Sendable {
        public let at: Date
        public let creditType: String
        public let amount: Int64
        public let reason: String

        public init(at: Date, creditType: String, amount: Int64, reason: String) {
            self.at = at
            self.creditType = creditType
            self.amount = amount
            self.reason = reason
        }
    }

    public struct InvoiceRow: Sendable {
        public let id: String
        public let number: String?
        public let status: String
        /// Tollgate renders its PDF (a numbered invoice of its own, not Stripe's).
        public let hasDocument: Bool
        public let total: Money
        public let at: Date
        public var dueAt: Date?
        /// One of Tollgate's own invoices (the manual provider's): the console acts on it; a
        /// provider's invoice is changed in the provider's dashboard.
        public var own = false
        /// Credit notes have credited all of it: nothing is left to credit.
        public var fullyCredited = false

        public init(id: String, number: String?, status: String, hasDocument: Bool, total: Money, at: Date) {
            self.id = id
            self.number = number
            self.status = status
            self.hasDocument = hasDocument
            self.total = total
            self.at = at
        }
    }

    public struct RefusalRow: Sendable {
        public let day: Date
        public let feature: String
        public let reason: String
        public let count: Int64

        public init(day: Date, feature: String, reason: String, count: Int64) {
            self.day = day
            self.feature = feature
            self.reason = reason
            self.count = count
        }
    }

    public struct WorkspaceRow: Sendable {
        public let id: String
        public let name: String
        public let members: [(email: String, role: String)]

        public init(id: String, name: String, members: [(email: String, role: String)]) {
            self.id = id
            self.name = name
            self.members = members
        }
    }

    public var id: String
    public var email: String?
    public var name: String?
    public var planId: String
    public var planName: String
    public var status: CustomerStatus
    public var createdAt: Date
    public var spendCap: Money?
    public var subscriptions: [SubscriptionRow] = []
    public var history: [HistoryRow] = []
    /// False when the plan is priced: without a subscription, the customer is not "Free".
    public var planIsFree = true

    /// A change of plan or status, or an operator's trial extension (`status` `trial_extended`).
    public struct HistoryRow: Sendable {
        public let at: Date
        public let planName: String
        public let status: String
        /// The trial's new end, for an extension.
        public var until: Date?

        public init(at: Date, planName: String, status: String) {
            self.at = at
            self.planName = planName
            self.status = status
        }
    }
    public var usage: [UsageRow] = []
    public var balances: [(creditType: String, balance: Int64, available: Int64)] = []
    public var ledger: [LedgerRow] = []
    public var invoices: [InvoiceRow] = []
    /// Who the invoices are made out to (nil until set).
    public var billing: BillingParty?

    /// The billing details as the page shows them.
    public struct BillingParty: Sendable {
        public let lines: [String]
        public let vatNumber: String?
        public let paymentTermsDays: Int

        public init(lines: [String], vatNumber: String?, paymentTermsDays: Int) {
            self.lines = lines
            self.vatNumber = vatNumber
            self.paymentTermsDays = paymentTermsDays
        }
    }
    public var refusals: [RefusalRow] = []
    public var workspaces: [WorkspaceRow] = []
    /// For the action forms.
    public var plans: [(id: String, name: String)] = []
    /// Plans with a trial the customer may still take (none once they have a live subscription).
    public var trialPlans: [(id: String, name: String)] = []
    /// Plans the live subscription may move to: priced in its currency and interval.
    public var subscriptionPlans: [(id: String, name: String)] = []
    /// Packs the customer may buy, at the price they would pay (as the portal offers them).
    public var creditPacks: [(id: String, name: String, price: Money)] = []
    /// A provider's page where the customer pays what the operator just started for them.
    public var checkoutLink: String?
    public var creditTypes: [String] = []
    public var currencies: [Currency] = []
    /// A fresh key each time the page is drawn: submitting its form twice grants once.
    public var formKey: String

    public init(
        id: String, email: String?, name: String?, planId: String, planName: String, status: CustomerStatus,
        createdAt: Date, spendCap: Money?, formKey: String
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.planId = planId
        self.planName = planName
        self.status = status
        self.createdAt = createdAt
        self.spendCap = spendCap
        self.formKey = formKey
    }
}
