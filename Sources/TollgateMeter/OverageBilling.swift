import Foundation
import TollgateCore
import TollgateStorage

/// The overage lines of an invoice, priced from the meter's counters.
public struct OverageBilling: Sendable {
    let meter: Meter

    public init(meter: Meter) { self.meter = meter }

    /// The overage lines of a subject's period that contains `date`: one per metered feature
    /// used beyond its quota, priced in `currency`.
    public func overageLines(customerId: String, at date: Date, currency: Currency) async throws -> [InvoiceLine] {
        let subject = try await meter.customers.customer(id: customerId)
        let plan = meter.customers.plan(of: subject)
        var lines: [InvoiceLine] = []
        for quota in meter.overageQuotas(of: subject, plan: plan, at: date) {
            let used = try await meter.currentUsage(subjectId: customerId, quota: quota)
            if let line = Invoicing.overageLine(quota: quota, used: used, currency: currency) {
                lines.append(line)
            }
        }
        return lines
    }
}
