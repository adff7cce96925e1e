import Foundation
import TollgateCore

/// The state of a subscription as events carry it.
public struct SubscriptionEventData: Codable, Sendable, Hashable {
    public let id: String
    public let customerId: String
    public let plan: String
    public let status: String
    public let previousStatus: String?
    public let currentPeriodEnd: Date
    public let trialEnd: Date?
    public let cancelAtPeriodEnd: Bool
    /// What the subscription is billed in: the trial's mail states the price that follows it.
    public let interval: String?
    public let currency: String?
    public let seats: Int?
    public let hasPaymentMethod: Bool?
    /// When the change happened (ms since 1970): a receiver keeps the state with the largest.
    public let version: Int64

    public init(_ subscription: Subscription, previousStatus: SubscriptionStatus?, version: Int64) {
        id = subscription.id
        customerId = subscription.subject
        plan = subscription.planId
        status = subscription.status.rawValue
        self.previousStatus = previousStatus?.rawValue
        currentPeriodEnd = subscription.currentPeriodEnd
        trialEnd = subscription.trialEnd
        cancelAtPeriodEnd = subscription.cancelAtPeriodEnd
        interval = subscription.interval.rawValue
        currency = subscription.currency.code
        seats = subscription.seats
        hasPaymentMethod = subscription.hasPaymentMethod
        self.version = version
    }
}

/// A customer as `customer.created` carries it.
public struct CustomerEventData: Codable, Sendable, Hashable {
    public let customerId: String
    public let email: String?
    public let name: String?
    public let plan: String
    public let createdAt: Date
    public let version: Int64

    public init(_ customer: CustomerRecord) {
        customerId = customer.id
        email = customer.email
        name = customer.name
        plan = customer.planId
        createdAt = customer.createdAt
        version = Millis.from(customer.updatedAt)
    }
}

/// An invoice as `invoice.issued` carries it: amounts in minor units, and `total` formatted.
public struct InvoiceEventData: Codable, Sendable, Hashable {
    public let invoiceId: String
    public let number: String
    public let customerId: String
    public let subscriptionId: String?
    public let currency: String
    public let subtotalMinor: Int64
    public let taxMinor: Int64
    public let totalMinor: Int64
    public let total: String
    public let periodStart: Date?
    public let periodEnd: Date?
    public let issuedAt: Date
    public let dueAt: Date?
    public let version: Int64

    /// A finalized invoice (its number and finalization date are set).
    public init(_ invoice: InvoiceRecord) {
        let issuedAt = invoice.finalizedAt ?? invoice.createdAt
        invoiceId = invoice.id
        number = invoice.number ?? invoice.id
        customerId = invoice.subject
        subscriptionId = invoice.subscriptionId
        currency = invoice.currency.code
        subtotalMinor = invoice.subtotal
        taxMinor = invoice.tax
        totalMinor = invoice.total
        total = Money(invoice.total, invoice.currency).description
        periodStart = invoice.periodStart
        periodEnd = invoice.periodEnd
        self.issuedAt = issuedAt
        dueAt = invoice.dueAt
        version = Millis.from(issuedAt)
    }
}

/// A paid invoice as `invoice.paid` carries it: a provider's (Stripe says so in an event of its
/// own), or one of Tollgate's own invoices marked paid, with what was paid.
public struct InvoicePaidEventData: Codable, Sendable, Hashable {
    public let customerId: String
    public var subscriptionId: String?
    public let provider: String
    /// The provider's event that said so (Stripe's `evt_…`); absent for Tollgate's own invoices.
    public var providerEventId: String?
    public var invoiceId: String?
    public var number: String?
    public var currency: String?
    public var totalMinor: Int64?
    public var total: String?
    public var paidAt: Date?
    public let version: Int64

    public init(customerId: String, subscriptionId: String, provider: String, providerEventId: String, version: Int64) {
        self.customerId = customerId
        self.subscriptionId = subscriptionId
        self.provider = provider
        self.providerEventId = providerEventId
        self.version = version
    }

    /// One of Tollgate's own invoices, just marked paid.
    public init(paid invoice: InvoiceRecord, at date: Date) {
        customerId = invoice.subject
        subscriptionId = invoice.subscriptionId
        provider = invoice.provider
        invoiceId = invoice.id
        number = invoice.number ?? invoice.id
        currency = invoice.currency.code
        totalMinor = invoice.total
        total = Money(invoice.total, invoice.currency).description
        paidAt = date
        version = Millis.from(date)
    }
}

/// A customer's plan as events carry it.
public struct PlanChangeEventData: Codable, Sendable, Hashable {
    public let customerId: String
    public let plan: String
    public let previousPlan: String
    public let version: Int64

    public init(customerId: String, plan: String, previousPlan: String, version: Int64) {
        self.customerId = customerId
        self.plan = plan
        self.previousPlan = previousPlan
        self.version = version
    }
}

/// Which events a subscription change makes true (pure, so each rule is tested on its own):
/// `subscription.created` for a new one, else `subscription.updated`, `subscription.past_due` when
/// a payment failed, `subscription.canceled` when it ended; and `customer.plan_changed` when the
/// plan the customer is entitled to moved.
public enum SubscriptionChangeEvents {
    public static func types(previous: SubscriptionStatus?, next: SubscriptionStatus) -> [String] {
        guard let previous else { return ["subscription.created"] }
        if next == previous { return ["subscription.updated"] }
        switch next {
        case .pastDue: return ["subscription.past_due"]
        case .canceled, .inactive: return ["subscription.canceled"]
        case .trialing, .active: return ["subscription.updated"]
        }
    }

    /// The e-mail a subscription event is told by, if any: what the change means for the reader.
    public static func mailKind(type: String, previousStatus: String?, status: String) -> String? {
        switch (type, previousStatus, status) {
        case ("subscription.past_due", _, _): return "payment_failed"
        case ("subscription.trial_will_end", _, _): return "trial_ending"
        case ("subscription.canceled", "past_due", "inactive"): return "subscription_suspended"
        case ("subscription.canceled", "trialing", "inactive"): return "trial_ended"
        case ("subscription.created", nil, "trialing"): return "trial_started"
        case ("subscription.updated", "past_due", "active"), ("subscription.updated", "inactive", "active"):
            return "subscription_reactivated"
        default: return nil
        }
    }

    /// `subscription.trial_will_end`, told once per subscription and trial end: the scheduler
    /// looks every tick, and the id (derived from both) makes a second look write nothing.
    public static func trialReminder(_ subscription: Subscription, at now: Date) throws -> OutboxMessage {
        let end = subscription.trialEnd.map(Millis.from) ?? 0
        return try OutboxEvent.message(
            id: "evt_trial_\(subscription.id)_\(end)", type: "subscription.trial_will_end",
            subject: Subject.customer(subscription.subject),
            data: SubscriptionEventData(subscription, previousStatus: subscription.status, version: Millis.from(now)),
            at: now)
    }
}

/// `invoice.overdue`: an open invoice past its due date, at each reminder.
public struct InvoiceOverdueEventData: Codable, Sendable, Hashable {
    public let invoiceId: String
    public let number: String
    public let customerId: String
    public let currency: String
    public let totalMinor: Int64
    public let total: String
    public let dueAt: Date
    public let daysOverdue: Int
    /// 1, 2 or 3; the last one moves the invoice's subscription to past due.
    public let reminder: Int
    public let final: Bool
    public let version: Int64

    public init(_ invoice: InvoiceRecord, reminder: Int, final: Bool, at: Date) {
        invoiceId = invoice.id
        number = invoice.number ?? invoice.id
        customerId = invoice.subject
        currency = invoice.currency.code
        totalMinor = invoice.total - invoice.credited
        total = Money(invoice.total - invoice.credited, invoice.currency).description
        let due = invoice.dueAt ?? at
        dueAt = due
        daysOverdue = Int(at.timeIntervalSince(due) / 86_400)
        self.reminder = reminder
        self.final = final
        version = Millis.from(at)
    }
}
