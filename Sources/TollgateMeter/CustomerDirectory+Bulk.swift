import Foundation
import TollgateCore
import TollgateStorage

extension CustomerDirectory {
    /// A row of a bulk creation, its id, address and language already checked by the door.
    public struct NewCustomer: Sendable {
        public let id: String
        public let email: String?
        public let name: String?
        /// The plan to start on; the catalog's default when nil.
        public let planId: String?
        public let locale: String?

        public init(id: String, email: String?, name: String?, planId: String?, locale: String?) {
            self.id = id
            self.email = email
            self.name = name
            self.planId = planId
            self.locale = locale
        }
    }

    /// What became of one row.
    public enum BulkOutcome: Sendable {
        case created(CustomerRecord)
        /// The id exists with the same data: nothing to do.
        case existing(CustomerRecord)
        case refused(DomainError)
    }

    /// Creates many customers in one transaction (with their `customer.created` events and audit
    /// entries): each row answered in order, a refused row naming its field, the others
    /// committed. A row is idempotent: an existing customer with the same address, name (and plan,
    /// when the row names one) answers `existing`; with other data, a conflict. An id given twice
    /// answers as its first row, if both ask the same.
    public func createCustomers(_ rows: [NewCustomer]) async throws -> [BulkOutcome] {
        let now = clock.now()
        var outcomes = [BulkOutcome?](repeating: nil, count: rows.count)
        var firstRow: [String: Int] = [:]
        var records: [(row: Int, record: CustomerRecord)] = []
        for (index, row) in rows.enumerated() where firstRow[row.id] == nil {
            do {
                let planId = row.planId ?? catalog.defaultPlanId
                guard catalog.plan(planId) != nil else {
                    throw DomainError(.planNotFound, "no plan \(planId) in catalog \(catalog.product)", field: "plan")
                }
                var record = CustomerRecord(
                    id: row.id, email: row.email, name: try DisplayName.validated(optional: row.name, maximum: 1024),
                    planId: planId, billingAnchor: now, createdAt: now, updatedAt: now)
                record.locale = row.locale
                firstRow[row.id] = index
                records.append((index, record))
            } catch let error as DomainError {
                outcomes[index] = .refused(error)
            }
        }
        let asked = records.map(\.record)
        let creations = try await store.transaction { tx in
            let creations = try await tx.createCustomers(asked)
            let changes = creations.compactMap { creation -> AuditChange? in
                guard case .created(let created) = creation else { return nil }
                return AuditChange("customer.created", target: Self.target(created.id), after: ["plan": created.planId])
            }
            try await Audit.record(changes, in: tx)
            return creations
        }
        for ((index, record), creation) in zip(records, creations) {
            switch creation {
            case .created(let created):
                remember(created)
                outcomes[index] = .created(created)
            case .existing(let existing):
                outcomes[index] =
                    Self.asks(rows[index], sameAs: existing)
                    ? .existing(existing)
                    : .refused(Self.conflict(record.id))
            }
        }
        for (index, row) in rows.enumerated() where outcomes[index] == nil {
            // A later row of an id: the first row's record, if this one asks the same.
            guard let first = firstRow[row.id], let answer = outcomes[first] else { continue }
            switch answer {
            case .created(let record), .existing(let record):
                outcomes[index] = Self.asks(row, sameAs: record) ? .existing(record) : .refused(Self.conflict(row.id))
            case .refused(let error):
                outcomes[index] = .refused(error)
            }
        }
        return outcomes.map { $0 ?? .refused(DomainError.invalidField("id", "not read")) }
    }

    static func asks(_ row: NewCustomer, sameAs existing: CustomerRecord) -> Bool {
        existing.email == row.email && existing.name == row.name && (row.planId.map { $0 == existing.planId } ?? true)
    }

    static func conflict(_ id: String) -> DomainError {
        DomainError(.conflict, "customer \(id) already exists with different data", field: "id")
    }
}
