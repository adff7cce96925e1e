import Foundation
import Hummingbird
import TollgateAnalytics
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage
import TollgateWeb

/// Usage, catalog, deliveries, API keys and operators.
extension ConsolePages {
    @Sendable func usage(_ request: Request, context: ConsoleContext) async throws -> Response {
        let now = clock.now()
        let month = PeriodMath.window(.monthly, containing: now, anchor: now)
        let ladder = Dictionary(uniqueKeysWithValues: catalog.plans.map { ($0.id, $0.order) })
        let rows = try await reports.usage(from: month.start, to: month.end!, ladder: ladder)
        var starts: [Date] = []
        for back in (0..<6).reversed() {
            starts.append(PeriodMath.utcCalendar.date(byAdding: .month, value: -back, to: month.start)!)
        }
        var totals: [String: [Int64]] = [:]
        for (index, start) in starts.enumerated() {
            let end = PeriodMath.utcCalendar.date(byAdding: .month, value: 1, to: start)!
            for figure in try await store.usageFigures(from: start, to: end) {
                totals[figure.feature, default: Array(repeating: 0, count: starts.count)][index] += figure.totalUsage
            }
        }
        let features = catalog.features.map(\.id).filter { totals[$0] != nil }
        let language = frame(request, context, "usage").locale
        var data = UsagePageData(
            month: month.start, rows: rows,
            trend: features.map { feature in
                (feature: feature, months: zip(starts, totals[feature]!).map { (start: $0, total: $1) })
            },
            featureNames: Dictionary(uniqueKeysWithValues: catalog.features.map { ($0.id, $0.name(in: language)) }),
            planNames: Dictionary(uniqueKeysWithValues: catalog.plans.map { ($0.id, $0.name) }))
        for (quota, count) in try await store.customersAtLimit(CustomerListQuery.quotas(catalog), now: now) {
            data.atLimitNow[UsageReport.groupKey(feature: quota.feature, planId: quota.planId)] = count
        }
        return ConsoleRequest.html(frame(request, context, "usage").usagePage(data), request: request)
    }

    @Sendable func catalogPage(_ request: Request, context: ConsoleContext) async throws -> Response {
        let problems = CatalogCompatibility.issues(try await store.catalogReferences(), catalog: catalog)
            .map { "\($0.path): \($0.message)" }
        return ConsoleRequest.html(
            frame(request, context, "catalog").catalogPage(catalog, problems: problems), request: request)
    }

    // MARK: Audit trail

    /// The trail with the API's filters (`actor`, `target`, `action`, `cursor`; empty fields, as a
    /// form sends them, filter nothing).
    @Sendable func audit(_ request: Request, context: ConsoleContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = try AuditRoutes.query(parameters, ignoringEmpty: true)
        query.limit = 50
        let events = try await store.auditEvents(query)
        let filters = ["actor", "target", "action"].map { ($0, parameters.get($0).flatMap { $0.isEmpty ? nil : $0 }) }
        let next =
            events.count == query.limit
            ? events.last.map { "/console/audit" + Paths.query(filters + [("cursor", String($0.sequence))]) } : nil
        var data = AuditPageData(
            events: events, actor: parameters.get("actor") ?? "", target: parameters.get("target") ?? "",
            action: parameters.get("action") ?? "", nextPage: next)
        data.actorNames = try await actorNames(Set(events.map(\.draft.actor)))
        return ConsoleRequest.html(frame(request, context, "audit").auditPage(data), request: request)
    }

    /// Who the actors are, in words: an operator's or a user's e-mail, a key's name (the ids
    /// alone say nothing to a reader).
    private func actorNames(_ actors: Set<AuditActor>) async throws -> [AuditActor: String] {
        var names: [AuditActor: String] = [:]
        for actor in actors {
            guard let id = actor.id else { continue }
            switch actor.kind {
            case .operator: names[actor] = try await store.operatorAccount(id: id)?.email
            case .secretKey: names[actor] = try await store.apiKey(id: id)?.name
            case .user: names[actor] = try await store.user(id: id)?.email
            case .system, .anonymous: break
            }
        }
        return names
    }

    // MARK: Deliveries

    /// E-mail and webhook messages, newest first, 50 a page, filtered by state, channel, endpoint
    /// and event type (empty fields, as a form sends them, filter nothing).
    @Sendable func deliveries(_ request: Request, context: ConsoleContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        func given(_ name: String) -> String? { parameters.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        var query = DeliveryQuery()
        if let state = given("state") {
            query.state = try DeliveryQuery.State(rawValue: state).orThrow(
                .invalidField("state", "failed, pending or delivered"))
        }
        if let channel = given("channel") {
            query.channel = try DeliveryQuery.Channel(rawValue: channel).orThrow(
                .invalidField("channel", "email, webhook or event"))
        }
        if let endpoint = given("endpoint") { query.recipient = try Validate.identifier(endpoint, field: "endpoint") }
        if let type = given("type") {
            guard OutboxEvent.types.contains(type) else {
                throw DomainError.invalidField("type", "one of \(OutboxEvent.types.joined(separator: ", "))")
            }
            query.eventType = type
        }
        if let cursor = given("cursor") {
            let parts = cursor.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]) else {
                throw DomainError.invalidField("cursor", "not a cursor this page gave")
            }
            query.after = (millis, String(parts[1]))
        }
        let endpoints = try await webhookEndpoints.endpoints()
        let urls = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.id, $0.url) })
        let entries = try await store.deliveries(query)
        let filters = ["state", "channel", "endpoint", "type"].map { ($0, given($0)) }
        let frame = frame(request, context, "deliveries")
        // A webhook URL may carry a token: shown to who may manage the endpoints.
        let showURLs = frame.may(.manageWebhooks)
        var data = DeliveryPageData(
            rows: entries.map { DeliveryRows.row($0, endpointURLs: urls, showURLs: showURLs) })
        data.state = given("state") ?? ""
        data.channel = given("channel") ?? ""
        data.endpoint = given("endpoint") ?? ""
        data.eventType = given("type") ?? ""
        data.endpoints = endpoints.map { ($0.id, showURLs ? $0.url : $0.id) }
        data.eventTypes = OutboxEvent.types
        data.nextPage =
            entries.count == query.limit
            ? entries.last.map {
                "/console/deliveries"
                    + Paths.query(filters + [("cursor", "\(Millis.from($0.message.createdAt))_\($0.message.id)")])
            } : nil
        data.notice = frame.notice(parameters.get("notice"))
        return ConsoleRequest.html(frame.deliveriesPage(data), request: request)
    }

    @Sendable func retryDelivery(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        if try await !deliveries.sendAgain(id: id) { context.audit.action("webhook_message.replayed") }
        return ConsoleRequest.seeOther("/console/deliveries?notice=retried")
    }

    // MARK: API keys

    func apiKeysPage(_ request: Request, _ context: ConsoleContext, newSecret: String? = nil) async throws -> Response {
        let keys = try await apiKeys.list().map {
            APIKeyRow(
                id: $0.id, prefix: $0.prefix, name: $0.name, scopes: $0.scopes, createdAt: $0.createdAt,
                lastUsedAt: $0.lastUsedAt, expiresAt: $0.expiresAt, revokedAt: $0.revokedAt)
        }
        return ConsoleRequest.html(
            frame(request, context, "api_keys").apiKeysPage(
                keys, scopes: Scope.allCases.map(\.rawValue), newSecret: newSecret),
            status: newSecret == nil ? .ok : .created, request: request)
    }

    @Sendable func apiKeys(_ request: Request, context: ConsoleContext) async throws -> Response {
        try await apiKeysPage(request, context)
    }

    @Sendable func createAPIKey(_ request: Request, context: ConsoleContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        let scopes = try form.all("scope").map { raw in
            guard let scope = Scope(rawValue: raw) else {
                throw DomainError.invalidField("scope", "unknown scope \(raw)")
            }
            return scope
        }
        let created = try await apiKeys.create(
            scopes: scopes, name: form.first("name").flatMap { $0.isEmpty ? nil : $0 })
        return try await apiKeysPage(request, context, newSecret: created.secret)
    }

    @Sendable func revokeAPIKey(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        _ = try await apiKeys.revoke(id: id)
        return ConsoleRequest.seeOther("/console/api-keys")
    }

    @Sendable func rotateAPIKey(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let replacement = try await apiKeys.rotate(id: id, grace: 86_400)
        return try await apiKeysPage(request, context, newSecret: replacement.secret)
    }

    // MARK: Operators

    func operatorsPage(_ request: Request, _ context: ConsoleContext, setupLink: String? = nil) async throws
        -> Response
    {
        let rows = try await store.operatorAccounts().map {
            OperatorRow(id: $0.id, email: $0.email, role: $0.role, setUp: $0.isSetUp)
        }
        return ConsoleRequest.html(
            frame(request, context, "operators").operatorsPage(rows, setupLink: setupLink),
            status: setupLink == nil ? .ok : .created, request: request)
    }

    @Sendable func operatorList(_ request: Request, context: ConsoleContext) async throws -> Response {
        try await operatorsPage(request, context)
    }

    @Sendable func inviteOperator(_ request: Request, context: ConsoleContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        guard let role = OperatorRole(rawValue: try form.required("role")) else {
            throw DomainError.invalidField("role", "one of owner, admin, support, viewer")
        }
        let (_, token) = try await operators.create(email: try form.required("email"), role: role)
        return try await operatorsPage(
            request, context, setupLink: OperatorLinks.setup(settings.publicBase, token: token))
    }

    @Sendable func changeOperatorRole(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        guard let role = OperatorRole(rawValue: try form.required("role")) else {
            throw DomainError.invalidField("role", "one of owner, admin, support, viewer")
        }
        try await operators.changeRole(id: id, to: role)
        return ConsoleRequest.seeOther("/console/operators")
    }

    @Sendable func removeOperator(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        try await operators.remove(id: id)
        return ConsoleRequest.seeOther("/console/operators")
    }
}

/// The one-time link that sets an operator account up.
public enum OperatorLinks {
    public static func setup(_ base: String, token: String) -> String {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/console/setup?token=\(token)"
    }
}
