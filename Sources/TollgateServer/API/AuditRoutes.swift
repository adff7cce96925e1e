import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Reading the audit trail: the product's admin key reads all of it; a workspace's owner reads
/// the workspace's part when its plan has the `audit_log` feature (Memento keeps it to Enterprise).
struct AuditRoutes: Sendable {
    static let feature = "audit_log"
    static let maximumLimit = 200

    let store: any ReadModel
    let workspaces: WorkspaceService
    let customers: any ReadModel
    let catalog: Catalog

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("audit-events", use: list)
    }

    func register(on group: RouterGroup<UserContext>) {
        group.get("workspaces/{id}/audit-events", use: workspaceList)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> AuditEventPage {
        try context.caller.require(.admin)
        return try await page(try Self.query(request.uri.queryParameters))
    }

    @Sendable func workspaceList(_ request: Request, context: UserContext) async throws -> AuditEventPage {
        let id = try Validate.pathIdentifier(context)
        let membership = try await workspaces.authorize(.viewAuditLog, workspaceId: id, userId: context.user.userId)
        let plan = try await customers.customer(id: membership.workspace.id).flatMap { catalog.plan($0.planId) }
        guard case .boolean(true) = plan?.features[Self.feature] else {
            let with = catalog.plans.filter { $0.features[Self.feature] == .boolean(true) }.map(\.name)
            throw DomainError(
                .tierLimited,
                "the workspace's plan has no audit log"
                    + (with.isEmpty ? "" : "; it comes with \(with.joined(separator: ", "))"), field: "id")
        }
        var query = try Self.query(request.uri.queryParameters)
        query.workspaceId = id
        return try await page(query)
    }

    private func page(_ query: AuditQuery) async throws -> AuditEventPage {
        let events = try await store.auditEvents(query)
        return AuditEventPage(
            data: events.map(AuditEventResponse.init),
            nextCursor: events.count == query.limit ? events.last.map { String($0.sequence) } : nil)
    }

    /// `actor` (`kind`, `kind:id` or an id), `target`, `action`, `from`, `to`, `limit`, `cursor`.
    /// `ignoringEmpty`: an empty cursor is no cursor (a page's own link), not an error.
    static func query(_ parameters: Parameters, ignoringEmpty: Bool = false) throws -> AuditQuery {
        var query = AuditQuery()
        func invalid(_ field: String, _ message: String) -> HTTPOnlyError {
            HTTPOnlyError(.invalidQuery, "\(field): \(message)", field: field)
        }
        if let actor = parameters.get("actor"), !actor.isEmpty {
            let parts = actor.split(separator: ":", maxSplits: 1).map(String.init)
            if let kind = AuditActor.Kind(rawValue: parts[0]) {
                query.actorKind = kind
                if parts.count == 2 { query.actorId = parts[1] }
            } else if parts.count == 1 {
                query.actorId = actor
            } else {
                let kinds = AuditActor.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                throw invalid("actor", "a kind (\(kinds)), kind:id, or an id")
            }
        }
        for (field, maximum) in [("actor", 300), ("target", 300), ("action", 100)] {
            guard let value = parameters.get(field) else { continue }
            if value.unicodeScalars.count > maximum { throw invalid(field, "at most \(maximum) characters") }
            if value.unicodeScalars.contains(where: \.isControlCharacter) {
                throw invalid(field, "no control characters")
            }
        }
        query.target = parameters.get("target").flatMap { $0.isEmpty ? nil : $0 }
        // Targets are recorded as kind:id: a bare id would silently match nothing.
        if let target = query.target, !target.contains(":") {
            throw invalid("target", "kind:id, such as customer:\(target) or account:\(target)")
        }
        query.action = parameters.get("action").flatMap { $0.isEmpty ? nil : $0 }
        for (field, keyPath) in [("from", \AuditQuery.from), ("to", \AuditQuery.to)] {
            guard let text = parameters.get(field) else { continue }
            guard let date = RFC3339.date(text) else { throw invalid(field, "a time such as 2026-05-01T00:00:00Z") }
            query[keyPath: keyPath] = date
        }
        if let limit = parameters.get("limit") {
            guard let parsed = Int(limit), (1...maximumLimit).contains(parsed) else {
                throw invalid("limit", "a whole number from 1 to \(maximumLimit)")
            }
            query.limit = parsed
        }
        if let cursor = parameters.get("cursor"), !(ignoringEmpty && cursor.isEmpty) {
            guard let sequence = Int64(cursor), sequence > 0 else {
                throw invalid("cursor", "not a cursor this listing gave")
            }
            query.before = sequence
        }
        return query
    }
}

struct AuditEventPage: ResponseEncodable {
    let data: [AuditEventResponse]
    @NullEncoded var nextCursor: String?
}

/// One entry as the API shows it; `before` and `after` are the JSON that was recorded. Absent
/// values are `null`, so every entry has the same keys.
struct AuditEventResponse: Encodable, Sendable {
    struct Actor: Encodable, Sendable {
        let kind: String
        @NullEncoded var id: String?
    }

    let id: String
    let at: Date
    var actor: Actor
    let action: String
    @NullEncoded var target: String?
    @NullEncoded var workspaceId: String?
    @NullEncoded var ip: String?
    @NullEncoded var userAgent: String?
    @NullEncoded var before: JSONValue?
    @NullEncoded var after: JSONValue?

    init(_ event: AuditEvent) {
        let draft = event.draft
        id = draft.id
        at = draft.at
        actor = Actor(kind: draft.actor.kind.rawValue, id: draft.actor.id)
        action = draft.action
        target = draft.target
        workspaceId = draft.workspaceId
        ip = draft.ip
        userAgent = draft.userAgent
        before = draft.before.flatMap(JSONValue.parse)
        after = draft.after.flatMap(JSONValue.parse)
    }

    /// The entry as its subject may see it in their own export: what was done to them, but
    /// not who else did it, nor from where (another person's id, address and browser).
    func seen(bySubject userId: String) -> AuditEventResponse {
        guard !(actor.kind == AuditActor.Kind.user.rawValue && actor.id == userId) else { return self }
        var seen = self
        seen.actor = Actor(kind: actor.kind, id: nil)
        seen.ip = nil
        seen.userAgent = nil
        return seen
    }
}

/// Any JSON document, kept as it was written (integers stay integers).
enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    static func parse(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
