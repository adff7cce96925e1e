import Foundation
import SQLKit
import TollgateCore
import TollgateStorage

/// Many customers in one transaction (`POST /v1/customers/batch`, `tollgate customers import`):
/// multi-row statements, each under both databases' limits on bound values.
extension SQLStore {
    public func createCustomers(_ customers: [CustomerRecord]) async throws -> [CustomerCreation] {
        try await provider.transaction { db in
            var inserted = Set<String>()
            // In id order: two batches sharing ids then lock them in the same order (PostgreSQL).
            for chunk in customers.sorted(by: { $0.id < $1.id }).chunks(of: 250) {
                let rows = try await db.raw(
                    """
                    INSERT INTO customers (\(unsafeRaw: Self.newCustomerColumns))
                    VALUES \(chunk.map(Self.newCustomerRow).joined(separator: ", "))
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id
                    """
                ).all()
                for row in rows { inserted.insert(try row.decode(column: "id", as: String.self)) }
            }
            let created = customers.filter { inserted.contains($0.id) }
            for chunk in created.chunks(of: 500) {
                let states = chunk.map { customer -> SQLQueryString in
                    """
                    (\(bind: customer.id), \(bind: Millis.from(customer.createdAt)), \(bind: customer.planId), \
                    \(bind: CustomerStatus.free.rawValue))
                    """
                }
                try await db.raw(
                    """
                    INSERT INTO customer_states (customer_id, at_ms, plan_id, status)
                    VALUES \(states.joined(separator: ", ")) ON CONFLICT (customer_id, at_ms) DO NOTHING
                    """
                ).run()
            }
            try await Self.enqueue(db, try created.map(Self.customerCreated), ignoringDuplicates: true)
            var existing: [String: CustomerRecord] = [:]
            for chunk in customers.map(\.id).filter({ !inserted.contains($0) }).chunks(of: 500) {
                let rows = try await db.raw(
                    "SELECT \(unsafeRaw: Self.customerColumns) FROM customers WHERE id IN (\(binds: Array(chunk)))"
                ).all()
                for row in rows {
                    let customer = try Self.decodeCustomer(row)
                    existing[customer.id] = customer
                }
            }
            return try customers.map { customer in
                if inserted.contains(customer.id) { return .created(customer) }
                guard let stored = existing[customer.id] else {
                    throw StoreError.invalidConfiguration("customer \(customer.id) vanished during creation")
                }
                return .existing(stored)
            }
        }
    }
}
