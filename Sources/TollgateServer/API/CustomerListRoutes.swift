import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// `GET /v1/customers`: customers found by id, e-mail or name, filtered by plan, status and
/// "near a limit", in pages. The console's customer list reads the same query.
struct CustomerListRoutes: Sendable {
    let store: any ReadModel
    let catalog: Catalog
    let clock: any TollgateClock

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.entitlementsRead).get("customers", use: list)
    }

    struct Item: Encodable {
        let id: String
        @NullEncoded var email: String?
        @NullEncoded var name: String?
        let plan: String
        let status: String
        let createdAt: Date
    }

    struct Page: ResponseEncodable {
        let data: [Item]
        @NullEncoded var nextCursor: String?
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Page {
        let query = try CustomerListQuery.parse(request, catalog: catalog, now: clock.now())
        let rows = try await store.listCustomers(query)
        return Page(
            data: rows.map {
                Item(
                    id: $0.customer.id, email: $0.customer.email, name: $0.customer.name, plan: $0.customer.planId,
                    status: $0.status.rawValue, createdAt: $0.customer.createdAt)
            }, nextCursor: CustomerListQuery.nextCursor(rows, query: query))
    }
}

/// The listing's query string: `query`, `plan`, `status`, `nearLimit`, `sort`, `cursor`, `limit`. An
/// empty filter is no filter, as an HTML form sends its "any" choice.
enum CustomerListQuery {
    static let maximumLimit = 200

    static func parse(_ request: Request, catalog: Catalog, now: Date) throws -> CustomerQuery {
        let parameters = request.uri.queryParameters
        var query = CustomerQuery()
        query.now = now
        if let text = parameters.get("query")?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            guard text.count <= 255 else {
                throw HTTPOnlyError(.invalidQuery, "query: at most 255 characters", field: "query")
            }
            query.text = text
        }
        if let plan = parameters.get("plan"), !plan.isEmpty {
            guard catalog.plan(plan) != nil else {
                throw HTTPOnlyError(.invalidQuery, "plan: no plan \(plan) in the catalog", field: "plan")
            }
            query.planId = plan
        }
        if let status = parameters.get("status"), !status.isEmpty {
            guard let parsed = CustomerStatus(rawValue: status) else {
                throw HTTPOnlyError(
                    .invalidQuery,
                    "status: one of \(CustomerStatus.allCases.map(\.rawValue).joined(separator: ", "))", field: "status"
                )
            }
            query.status = parsed
        }
        switch parameters.get("nearLimit") {
        case nil, "", "false": query.nearLimit = false
        case "true": query.nearLimit = true
        default: throw HTTPOnlyError(.invalidQuery, "nearLimit: true or false", field: "nearLimit")
        }
        query.quotas = quotas(catalog)
        if let sort = parameters.get("sort"), !sort.isEmpty {
            guard let parsed = CustomerQuery.Sort(rawValue: sort) else {
                throw HTTPOnlyError(
                    .invalidQuery,
                    "sort: one of \(CustomerQuery.Sort.allCases.map(\.rawValue).joined(separator: ", "))", field: "sort"
                )
            }
            query.sort = parsed
        }
        if let limit = parameters.get("limit") {
            guard let parsed = Int(limit), (1...maximumLimit).contains(parsed) else {
                throw HTTPOnlyError(.invalidQuery, "limit: a whole number from 1 to \(maximumLimit)", field: "limit")
            }
            query.limit = parsed
        }
        if let cursor = parameters.get("cursor"), !cursor.isEmpty {
            guard let decoded = decodeCursor(cursor) else {
                throw HTTPOnlyError(.invalidQuery, "cursor: not a cursor this listing gave", field: "cursor")
            }
            query.after = decoded
        }
        return query
    }

    /// Every finite quota of every plan, for "near a limit".
    static func quotas(_ catalog: Catalog) -> [CustomerQuery.Quota] {
        catalog.plans.flatMap { plan in
            plan.features.compactMap { feature, grant -> CustomerQuery.Quota? in
                switch grant {
                case .limit(.finite(let limit)), .metered(.finite(let limit), _, _):
                    return limit > 0 ? CustomerQuery.Quota(planId: plan.id, feature: feature, limit: limit) : nil
                default: return nil
                }
            }
        }.sorted { ($0.planId, $0.feature) < ($1.planId, $1.feature) }
    }

    /// The cursor after the last row of a full page; nil when the page was the last.
    static func nextCursor(_ rows: [CustomerListing], query: CustomerQuery) -> String? {
        guard rows.count == query.limit, let last = rows.last else { return nil }
        let key: String
        switch query.sort {
        case .created, .createdAscending: key = String(Millis.from(last.customer.createdAt))
        case .id: key = last.customer.id
        case .email: key = last.customer.email ?? ""
        }
        return Data((key + "\u{1F}" + last.customer.id).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeCursor(_ text: String) -> CustomerCursor? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8) else {
            return nil
        }
        let parts = decoded.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty else { return nil }
        return CustomerCursor(key: String(parts[0]), id: String(parts[1]))
    }
}
