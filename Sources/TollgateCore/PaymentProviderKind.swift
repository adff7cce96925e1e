/// Who bills a subscription: Tollgate itself (invoices, paid by transfer) or Stripe. A stored
/// provider name is read into this; nothing compares provider names as text.
public enum PaymentProviderKind: String, Sendable, CaseIterable {
    case manual
    case stripe

    /// The kind a stored name stands for; nil for a name this build does not know.
    public init?(stored name: String) { self.init(rawValue: name) }
}
