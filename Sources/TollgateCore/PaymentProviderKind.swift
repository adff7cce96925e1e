/// Who bills a subscription: Tollgate itself (invoices, paid by transfer) or Stripe. A stored
/// provider name is read into this (`init(rawValue:)`, nil for a name this build does not know);
/// nothing compares provider names as text.
public enum PaymentProviderKind: String, Sendable, CaseIterable {
    case manual
    case stripe
}
