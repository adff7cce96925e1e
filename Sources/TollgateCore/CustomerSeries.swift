import Foundation

/// Where a customer stands with its subscriptions, for the customer analytics: the best status
/// among its live subscriptions (active, then past due, then trialing); `canceled` when none is
/// live but one was canceled or ended; `free` when it never subscribed.
public enum CustomerStatus: String, Sendable, Codable, CaseIterable {
    case free
    case trialing
    case active
    case pastDue = "past_due"
    case canceled

    public static func of(_ subscriptions: [Subscription]) -> CustomerStatus {
        let statuses = Set(subscriptions.map(\.status))
        if statuses.contains(.active) { return .active }
        if statuses.contains(.pastDue) { return .pastDue }
        if statuses.contains(.trialing) { return .trialing }
        return subscriptions.isEmpty ? .free : .canceled
    }
}

/// Customers by plan and status over time, sign-ups and free→paid conversion (docs/metrics.md),
/// computed from recorded customer states (pure).
public enum CustomerSeries {
    public struct State: Sendable, Hashable {
        public let customerId: String
        public let at: Date
        public let planId: String
        public let status: CustomerStatus

        public init(customerId: String, at: Date, planId: String, status: CustomerStatus) {
            self.customerId = customerId
            self.at = at
            self.planId = planId
            self.status = status
        }
    }

    public struct Period: Sendable, Hashable {
        public let start: Date
        public let end: Date
        /// Customers at the interval's end.
        public let customers: Int
        public let byPlan: [String: Int]
        public let byStatus: [CustomerStatus: Int]
        public let signUps: Int
        /// Customers who became paying (active or past due) for the first time in the interval.
        public let freeToPaid: Int
        /// freeToPaid ÷ customers who had never paid at the start or signed up in the interval.
        public let freeToPaidRate: Double?
    }

    /// The report for the intervals from `from` to `to`, from every state recorded before `to`
    /// (in any order; a customer's first state is its sign-up).
    public static func compute(
        _ states: [State], from: Date, to: Date, interval: RevenueSeries.Interval
    ) -> [Period] {
        let byCustomer = Dictionary(grouping: states, by: \.customerId).mapValues {
            $0.sorted { $0.at < $1.at }
        }
        let edges = RevenueSeries.boundaries(from: from, to: to, interval: interval)
        // Per customer: sign-up time and the time it first paid, if ever.
        var signUp: [String: Date] = [:]
        var firstPaid: [String: Date] = [:]
        for (customer, history) in byCustomer {
            signUp[customer] = history.first?.at
            firstPaid[customer] = history.first { $0.status.isPaying }?.at
        }
        return zip(edges, edges.dropFirst()).map { start, end in
            var byPlan: [String: Int] = [:]
            var byStatus: [CustomerStatus: Int] = [:]
            var customers = 0
            for history in byCustomer.values {
                guard let state = history.last(where: { $0.at < end }) else { continue }
                customers += 1
                byPlan[state.planId, default: 0] += 1
                byStatus[state.status, default: 0] += 1
            }
            let signUps = signUp.values.count { $0 >= start && $0 < end }
            let converted = firstPaid.values.count { $0 >= start && $0 < end }
            // Those who could convert in the interval: not paying before its start, existing by its end.
            let candidates = signUp.count { customer, joined in
                joined < end && (firstPaid[customer].map { $0 >= start } ?? true)
            }
            return Period(
                start: start, end: end, customers: customers, byPlan: byPlan, byStatus: byStatus, signUps: signUps,
                freeToPaid: converted,
                freeToPaidRate: candidates == 0 ? nil : Double(converted) / Double(candidates))
        }
    }
}

extension CustomerStatus {
    /// Billed: active or past due.
    public var isPaying: Bool { self == .active || self == .pastDue }
}
