import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage
import TollgateWeb

/// The console's webhook endpoints: list, add, enable or disable, rotate the secret, delete,
/// through the service the API uses.
extension ConsolePages {
    @Sendable func webhooks(_ request: Request, context: ConsoleContext) async throws -> Response {
        try await webhooksPage(request, context, notice: request.uri.queryParameters.get("notice"))
    }

    func webhooksPage(
        _ request: Request, _ context: ConsoleContext, newSecret: (endpoint: String, secret: String)? = nil,
        notice: String? = nil
    ) async throws -> Response {
        let rows = try await webhookEndpoints.endpoints().map {
            WebhookEndpointRow(
                id: $0.id, url: $0.url, description: $0.description, eventTypes: $0.eventTypes,
                enabled: $0.disabledAt == nil, disabledReason: $0.disabledReason, failingSince: $0.failingSince,
                createdAt: $0.createdAt)
        }
        let frame = frame(request, context, "deliveries")
        let words = frame.notice(notice)
        return ConsoleRequest.html(
            frame.webhooksPage(
                rows, eventTypes: OutboxEvent.types, formKey: Secrets.randomId(prefix: "form_"), newSecret: newSecret,
                notice: words),
            request: request)
    }

    @Sendable func createWebhook(_ request: Request, context: ConsoleContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        let types = form.all("eventType")
        let key = try Validate.identifier(try form.required("key"), field: "key")
        context.audit.once(key)
        let (endpoint, secret) = try await webhookEndpoints.create(
            url: try form.required("url"), description: form.first("description").flatMap { $0.isEmpty ? nil : $0 },
            eventTypes: types.isEmpty ? nil : types, idempotencyKey: "console:" + key)
        // The same form again (a reload): the endpoint it made, its secret not shown twice.
        guard let secret else { return try await webhooksPage(request, context, notice: "endpoint_created") }
        return try await webhooksPage(request, context, newSecret: (endpoint.id, secret))
    }

    func changeWebhook(enabled: Bool, _ request: Request, _ context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        _ = try await webhookEndpoints.update(id: id, .init(enabled: enabled))
        return ConsoleRequest.seeOther("/console/webhooks?notice=endpoint_\(enabled ? "enabled" : "disabled")")
    }

    @Sendable func rotateWebhookSecret(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let (endpoint, secret) = try await webhookEndpoints.rotateSecret(id: id)
        return try await webhooksPage(request, context, newSecret: (endpoint.id, secret))
    }

    @Sendable func deleteWebhook(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        try await webhookEndpoints.delete(id: id)
        return ConsoleRequest.seeOther("/console/webhooks?notice=endpoint_deleted")
    }
}
