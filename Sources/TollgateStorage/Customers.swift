import Foundation
import TollgateCore

public struct CustomerRecord: Sendable, Hashable, Codable {
    public var id: String
    public var email: String?
    public var name: String?
    public var planId: String
    /// When the current billing cycle was anchored (the plan's start).
    public var billingAnchor: Date
    public var createdAt: Date
    public var updatedAt: Date
    /// Add-ons bought, by catalog add-on id.
    public var addOns: [String: Int]
    /// Seats bought, for plans priced per seat.
    public var seats: Int?
    /// The most this customer's overage may cost in one period; nil: no cap.
    public var spendCap: Money?
    /// The language of mail to this customer (`en`, `fr`); nil: the server's default.
    public var locale: String?

    public init(
        id: String, email: String?, name: String?, planId: String, billingAnchor: Date, createdAt: Date,
        updatedAt: Date,
        addOns: [String: Int] = [:], seats: Int? = nil, spendCap: Money? = nil
    ) {
        self.spendCap = spendCap
        self.id = id
        self.email = email
        self.name = name
        self.planId = planId
        self.billingAnchor = billingAnchor
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.addOns = addOns
        self.seats = seats
    }
}

public enum CustomerCreation: Sendable, Hashable {
    case created(CustomerRecord)
    /// The id was taken already; the stored record is returned unchanged.
    case existing(CustomerRecord)
}

public protocol CustomerStore: Sendable {
    /// Creates the customer unless the id exists; never overwrites.
    func createCustomer(_ customer: CustomerRecord) async throws -> CustomerCreation
    /// Creates, in one transaction, each customer whose id does not exist yet (the ids are
    /// distinct), with its `customer.created` event; answers for each, in order.
    func createCustomers(_ customers: [CustomerRecord]) async throws -> [CustomerCreation]
    func customer(id: String) async throws -> CustomerRecord?
    /// Moves the customer to `planId` and re-anchors the billing cycle; nil if there is no such customer.
    func changePlan(customerId: String, planId: String, at: Date) async throws -> CustomerRecord?
    /// Replaces the add-on quantities and the seats bought; nil if there is no such customer.
    func setAddOns(customerId: String, addOns: [String: Int], seats: Int?, at: Date) async throws -> CustomerRecord?
    /// Sets (or, with nil, removes) the cap on what one period's overage may cost.
    func setSpendCap(customerId: String, cap: Money?, at: Date) async throws -> CustomerRecord?
    /// Sets the name and the language of e-mail (nil leaves a field as it is); nil if there is
    /// no such customer.
    func setProfile(customerId: String, name: String?, locale: String?, at: Date) async throws -> CustomerRecord?
}

/// Everything the server needs from storage.
/// What other nodes changed, for this node's caches.
public protocol ChangeFeed: Sendable {
    /// Calls `ready` once listening, then `changed` with the id of every customer changed by
    /// any node (this one included), until cancelled.
    func listenForCustomerChanges(ready: @escaping @Sendable () -> Void, changed: @escaping @Sendable (String) -> Void)
        async throws
    /// Calls `changed` with the id of every customer a transaction of this process changes, as
    /// it commits (before the caller of the transaction goes on): a cache here forgets it at once.
    func whenCustomerChangeCommits(_ changed: @escaping @Sendable (String) -> Void)
}

/// What the stored data refers to in the catalog, checked against the catalog at start.
public protocol CatalogReferenceStore: Sendable {
    func catalogReferences() async throws -> CatalogReferences
}
