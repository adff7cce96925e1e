import Foundation
import Logging
import TollgateCore
import TollgateStorage

/// A manual subscription's plan change: previewed, applied, and its charges invoiced.
extension SubscriptionService {
    /// What a plan change did: the subscription after it, and the prorated charge (negative: a
    /// credit) recorded for the next invoice.
    public struct PlanChange: Sendable {
        public let subscription: Subscription
        public let proration: Money?
        /// A trial ended by the change: the new period, owed in full and invoiced at once.
        public var periodCharge: Money? = nil
    }

    /// What `changePlan` would do now, without doing it: the page that asks before confirming
    /// shows this proration.
    public func previewPlanChange(_ subscription: Subscription, to planId: String) throws -> PlanChange {
        let (next, effects) = try transition(subscription, to: planId, at: clock.now())
        return PlanChange(
            subscription: next, proration: Self.proration(effects), periodCharge: Self.periodCharge(effects))
    }

    func transition(_ subscription: Subscription, to planId: String, at now: Date) throws
        -> (Subscription, [SubscriptionEffect])
    {
        do {
            return try SubscriptionMachine.apply(
                .changePlan(to: planId, at: now), to: subscription, catalog: catalog, policy: policy)
        } catch {
            throw Self.domainError(error)
        }
    }

    static func proration(_ effects: [SubscriptionEffect]) -> Money? {
        for case .prorate(let amount, _, _) in effects where amount.amountMinor != 0 { return amount }
        return nil
    }

    static func periodCharge(_ effects: [SubscriptionEffect]) -> Money? {
        for case .chargePeriod(let amount, _, _, _) in effects { return amount }
        return nil
    }

    /// Changes a manual subscription's plan through the state machine: an upgrade at once, with
    /// the proration recorded as a charge on the next invoice; a downgrade at the period's end.
    public func changePlan(_ subscription: Subscription, to planId: String, idempotencyKey: String) async throws
        -> PlanChange
    {
        let now = clock.now()
        let (next, effects) = try transition(subscription, to: planId, at: now)
        let reference = "proration:\(subscription.id):\(planId):\(idempotencyKey)"
        var charges: [InvoiceItemRecord] = []
        if let amount = Self.proration(effects) {
            charges.append(
                InvoiceItemRecord(
                    id: "ii_" + InvoiceService.randomSuffix(), subject: subscription.subject, kind: "proration",
                    description: "\(catalog.plan(subscription.planId)?.name ?? subscription.planId) → "
                        + "\(catalog.plan(planId)?.name ?? planId), prorated for the rest of the period",
                    amount: amount, reference: reference, createdAt: now))
        }
        let periodCharge = Self.periodCharge(effects)
        if periodCharge != nil {
            // Recorded with the change in one transaction, then invoiced at once: a crash in
            // between leaves it pending, invoiced by a retry or with the next period. Keyed on the
            // trial it ends, so two changes racing out of one trial charge the period once.
            charges += periodCharges(
                next, reference: "period:\(subscription.id):trial:\(Millis.from(subscription.currentPeriodStart))",
                at: now)
        }
        let outcome = try await applyManual(
            "subscription.plan_changed", eventId: "change:\(subscription.id):\(planId):\(idempotencyKey)",
            type: "subscription.plan_changed", before: subscription, next: next, now: now, charges: charges)
        if periodCharge != nil { await invoiceNow(next) }
        if outcome == .applied {
            return PlanChange(
                subscription: next, proration: Self.proration(effects), periodCharge: periodCharge)
        }
        // A retry of a change already made: answer with what it did.
        let charge = try await store.pendingInvoiceItems(subject: subscription.subject).first {
            $0.reference == reference
        }
        return PlanChange(
            subscription: try await store.subscription(id: subscription.id) ?? next, proration: charge?.amount)
    }

    /// A period's charges as invoice items: the plan (times its seats) and its add-ons, named
    /// with the period; `reference` makes each unique, so a replay records nothing twice.
    func periodCharges(_ subscription: Subscription, reference: String, at now: Date) -> [InvoiceItemRecord] {
        let period =
            DayStamp.string(of: subscription.currentPeriodStart) + " – "
            + DayStamp.string(of: subscription.currentPeriodEnd)
        return Invoicing.subscriptionLines(catalog: catalog, subscription: subscription).enumerated().map {
            index, line in
            InvoiceItemRecord(
                id: "ii_" + InvoiceService.randomSuffix(), subject: subscription.subject, kind: line.kind.rawValue,
                description: line.description + ", " + period, quantity: line.quantity, unitAmount: line.unitAmount,
                amount: Money(line.amount, subscription.currency), reference: "\(reference):\(index)", createdAt: now)
        }
    }

    /// Invoices what is pending for the subscription's customer now. The change it follows is
    /// made already: a failure here (no VAT rate, the database gone) is logged, and what is
    /// pending stays for a retry or the next period's invoice.
    func invoiceNow(_ subscription: Subscription) async {
        guard let invoices else { return }
        do {
            _ = try await invoices.invoicePending(
                customer: subscription.subject, currency: subscription.currency, subscription: subscription.id)
        } catch {
            logger.error("subscription \(subscription.id): its period could not be invoiced now: \(error)")
        }
    }
}
