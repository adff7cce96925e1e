import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateMeter

/// `POST /v1/customers/batch`: up to 10,000 customers in one request and one transaction, each
/// row answered on its own (201 created, 200 there already with the same data, or its error
/// naming the field), the valid rows committed whatever the others.
struct CustomerBatchRoutes: Sendable {
    let customers: CustomerDirectory
    static let maximumRows = 10_000
    static let endpoint = "/v1/customers/batch"

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.customersWrite).post("customers/batch", use: create)
    }

    struct Row: Decodable {
        let id: String
        let email: String?
        let name: String?
        let plan: String?
        let locale: String?
    }

    struct Body: Decodable {
        let customers: [Row]
    }

    struct RowResult: Encodable {
        let id: String
        let status: Int
        let error: ErrorBody?
    }

    struct Results: ResponseEncodable {
        let results: [RowResult]
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> some ResponseGenerator {
        let body = try await request.decode(as: Body.self, context: context)
        guard (1...Self.maximumRows).contains(body.customers.count) else {
            throw DomainError.invalidField("customers", "from 1 to \(Self.maximumRows) customers per request")
        }
        let parsed = body.customers.map(Self.parse)
        var outcomes = try await customers.createCustomers(parsed.compactMap { try? $0.get() }).makeIterator()
        var results: [RowResult] = []
        for (row, parsed) in zip(body.customers, parsed) {
            // A row read is answered by the directory, in order; one not read, by its error.
            let outcome = parsed.map { _ in outcomes.next() }
            switch outcome {
            case .failure(let error), .success(.refused(let error)): results.append(Self.refused(row.id, error))
            case .success(.created): results.append(RowResult(id: row.id, status: 201, error: nil))
            case .success(.existing): results.append(RowResult(id: row.id, status: 200, error: nil))
            case .success(nil):
                results.append(Self.refused(row.id, DomainError.invalidField("id", "this row was not answered")))
            }
        }
        if !results.contains(where: { $0.status == 201 }) { context.audit.skip() }
        return EditedResponse(status: .ok, response: Results(results: results))
    }

    /// A row's fields checked as `POST /v1/customers` checks them.
    static func parse(_ row: Row) -> Swift.Result<CustomerDirectory.NewCustomer, DomainError> {
        do {
            return .success(
                CustomerDirectory.NewCustomer(
                    id: try Validate.identifier(row.id, field: "id"), email: try Validate.email(row.email),
                    name: row.name, planId: try row.plan.map { try Validate.identifier($0, field: "plan") },
                    locale: try Validate.locale(row.locale)))
        } catch let error as DomainError {
            return .failure(error)
        } catch {
            return .failure(DomainError.invalidField("id", "\(error)"))
        }
    }

    static func refused(_ id: String, _ error: DomainError) -> RowResult {
        RowResult(id: id, status: Int(HTTPStatusMapping.status(for: error.code).code), error: error.body)
    }
}
