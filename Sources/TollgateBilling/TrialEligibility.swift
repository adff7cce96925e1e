import TollgateCore
import TollgateStorage

/// Whether a customer may still take a plan's trial: once per customer, whichever provider gave
/// the first (a Stripe trial counts against a manual one, and the other way round). The portal's
/// offer, Stripe's checkout and the manual provider's start all ask here.
enum TrialEligibility {
    static func trial(of plan: Plan, for customer: String, store: any BillingStore) async throws -> Trial? {
        guard let trial = plan.trial else { return nil }
        return try await store.hasHadTrial(subject: customer) ? nil : trial
    }
}

extension SubscriptionService {
    /// The plan's trial if the customer may still take it.
    public func trialOffered(_ plan: Plan, to customer: String) async throws -> Trial? {
        try await TrialEligibility.trial(of: plan, for: customer, store: store)
    }
}
