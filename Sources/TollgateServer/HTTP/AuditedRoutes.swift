import Foundation

/// How one route is written to the audit trail: the action's name, and the path parameter that
/// names its target (and its workspace). Handlers add the state before and after, and targets
/// only the body names.
struct AuditedRoute: Sendable {
    let action: String
    /// The kind of the target named by `targetParameter` (`customer` → `customer:<id>`).
    let target: String?
    var targetParameter = "id"
    var workspaceParameter: String?
    /// The door writes the entry, after its answer: the change is asked of Stripe and happens
    /// there (nothing changes here until its webhook). Every other action is a service's, written
    /// in the change's transaction (`AuditWrittenByServicesTests` holds both).
    var byDoor = false

    init(
        _ action: String, target: String? = nil, parameter: String = "id", workspace: String? = nil,
        byDoor: Bool = false
    ) {
        self.action = action
        self.target = target
        targetParameter = parameter
        workspaceParameter = workspace
        self.byDoor = byDoor
    }
}

/// Every route that changes state, and whether the audit trail records it. A route missing from
/// this table fails `AuditTableTests`; nil says, with its comment, why a route is not recorded.
enum AuditedRoutes {
    static let table: [String: AuditedRoute?] = [
        // Accounts.
        "POST /v1/auth/register": AuditedRoute("account.sign_up_requested"),
        "POST /v1/auth/login": AuditedRoute("auth.signed_in"),
        // A new access token for a session already recorded at sign-in.
        "POST /v1/auth/refresh": nil,
        "POST /v1/auth/verify-email": AuditedRoute("account.email_verified"),
        "POST /v1/auth/password-reset": AuditedRoute("auth.password_reset_requested"),
        "POST /v1/auth/password-reset/confirm": AuditedRoute("auth.password_reset"),
        "POST /v1/auth/logout": AuditedRoute("auth.signed_out"),
        "PATCH /v1/me": AuditedRoute("account.profile_changed"),
        "POST /v1/me/password": AuditedRoute("account.password_changed"),
        "POST /v1/me/email": AuditedRoute("account.email_change_requested"),
        "POST /v1/auth/email-change/confirm": AuditedRoute("account.email_changed"),
        "DELETE /v1/me": AuditedRoute("account.erased"),
        "DELETE /v1/customers/{id}/personal-data": AuditedRoute("customer.personal_data_erased", target: "customer"),
        "DELETE /v1/me/sessions/{id}": AuditedRoute("auth.session_revoked", target: "session"),
        "POST /v1/me/2fa/totp": AuditedRoute("auth.totp_enrolment_started"),
        "POST /v1/me/2fa/totp/confirm": AuditedRoute("auth.totp_enabled"),
        "POST /v1/me/2fa/totp/disable": AuditedRoute("auth.totp_disabled"),
        "PUT /v1/me/mail-preferences": AuditedRoute("account.mail_preferences_changed"),
        "POST /v1/mail/unsubscribe": AuditedRoute("account.mail_unsubscribed"),
        // Workspaces.
        "POST /v1/workspaces": AuditedRoute("workspace.created"),
        "POST /v1/workspaces/{id}/invitations/{token}": AuditedRoute(
            "workspace.invitation_accepted", target: "workspace", workspace: "id"),
        "PATCH /v1/workspaces/{id}": AuditedRoute("workspace.renamed", target: "workspace", workspace: "id"),
        "DELETE /v1/workspaces/{id}": AuditedRoute("workspace.deleted", target: "workspace", workspace: "id"),
        "POST /v1/workspaces/{id}/members/invite": AuditedRoute(
            "workspace.member_invited", target: "workspace", workspace: "id"),
        "PATCH /v1/workspaces/{id}/members/{userId}": AuditedRoute(
            "workspace.role_changed", target: "account", parameter: "userId", workspace: "id"),
        "DELETE /v1/workspaces/{id}/members/{userId}": AuditedRoute(
            "workspace.member_removed", target: "account", parameter: "userId", workspace: "id"),
        "POST /v1/workspaces/{id}/transfer": AuditedRoute(
            "workspace.ownership_transferred", target: "workspace", workspace: "id"),
        // Customers, plans, spend caps, billing details.
        "POST /v1/customers": AuditedRoute("customer.created"),
        "PUT /v1/customers/{id}/plan": AuditedRoute("customer.plan_changed", target: "customer"),
        "POST /v1/customers/batch": AuditedRoute("customer.created"),
        "PUT /v1/customers/{id}/spend-cap": AuditedRoute("customer.spend_cap_set", target: "customer"),
        "DELETE /v1/customers/{id}/spend-cap": AuditedRoute("customer.spend_cap_removed", target: "customer"),
        "PUT /v1/customers/{id}/billing-details": AuditedRoute(
            "customer.billing_details_changed", target: "customer"),
        // Invoices.
        "POST /v1/customers/{id}/invoice-items": AuditedRoute("invoice.item_added", target: "customer"),
        "POST /v1/customers/{id}/credit-packs": AuditedRoute("invoice.credit_pack_invoiced", target: "customer"),
        "POST /v1/invoices": AuditedRoute("invoice.created"),
        "POST /v1/invoices/{id}/finalize": AuditedRoute("invoice.finalized", target: "invoice"),
        "POST /v1/invoices/{id}/credit-notes": AuditedRoute("invoice.credit_note_issued", target: "invoice"),
        "POST /v1/invoices/{id}/pay": AuditedRoute("invoice.paid", target: "invoice"),
        "POST /v1/invoices/{id}/void": AuditedRoute("invoice.voided", target: "invoice"),
        "POST /v1/invoices/{id}/mark-uncollectible": AuditedRoute("invoice.marked_uncollectible", target: "invoice"),
        // Metering: the product's own traffic, thousands a second, kept in the usage tables.
        "POST /v1/check": nil,
        "POST /v1/consume": nil,
        "POST /v1/release": nil,
        "POST /v1/events": nil,
        "POST /v1/track": nil,
        "POST /v1/credits/debit": nil,
        "POST /v1/credits/reserve": nil,
        "POST /v1/credits/reservations/{id}/commit": nil,
        "POST /v1/credits/reservations/{id}/release": nil,
        // Credits granted by hand, packs, subscriptions. A checkout or Stripe's billing portal is
        // asked of Stripe: the door records it (`byDoor`); a cancellation or plan change is the
        // manual provider's service's, or asked of Stripe and recorded by the door.
        "POST /v1/customers/{id}/credits/grants": AuditedRoute("credits.granted", target: "customer"),
        "POST /v1/credits/packs/checkout": AuditedRoute("credits.pack_checkout_started", byDoor: true),
        "POST /v1/billing/trial": AuditedRoute("subscription.trial_started"),
        "POST /v1/billing/checkout": AuditedRoute("subscription.checkout_started", byDoor: true),
        "POST /v1/billing/portal": AuditedRoute("subscription.billing_portal_opened", byDoor: true),
        "POST /v1/billing/cancel": AuditedRoute("subscription.canceled"),
        "POST /v1/billing/subscriptions": AuditedRoute("subscription.created"),
        "POST /v1/billing/change-plan": AuditedRoute("subscription.plan_changed"),
        // Stripe's events: their effects are kept in billing_events, by Stripe's event id.
        "POST /v1/billing/webhook": nil,
        // Keys and webhooks.
        "POST /v1/api-keys": AuditedRoute("api_key.created"),
        "DELETE /v1/api-keys/{id}": AuditedRoute("api_key.revoked", target: "api_key"),
        "POST /v1/api-keys/{id}/rotate": AuditedRoute("api_key.rotated", target: "api_key"),
        "POST /v1/webhook-endpoints": AuditedRoute("webhook_endpoint.created"),
        "PATCH /v1/webhook-endpoints/{id}": AuditedRoute("webhook_endpoint.changed", target: "webhook_endpoint"),
        "DELETE /v1/webhook-endpoints/{id}": AuditedRoute("webhook_endpoint.deleted", target: "webhook_endpoint"),
        "POST /v1/webhook-endpoints/{id}/rotate-secret": AuditedRoute(
            "webhook_endpoint.secret_rotated", target: "webhook_endpoint"),
        "POST /v1/webhook-messages/{id}/replay": AuditedRoute("webhook_message.replayed", target: "webhook_message"),
        // The console.
        "POST /console/login": AuditedRoute("console.signed_in"),
        "POST /console/setup": AuditedRoute("console.operator_set_up"),
        "POST /console/logout": AuditedRoute("console.signed_out"),
        "POST /console/customers/{id}/plan": AuditedRoute("customer.plan_changed", target: "customer"),
        "POST /console/customers/{id}/trial-start": AuditedRoute("subscription.trial_started", target: "customer"),
        "POST /console/customers/{id}/subscription-plan": AuditedRoute(
            "subscription.plan_changed", target: "customer"),
        "POST /console/customers/{id}/credit-packs": AuditedRoute(
            "invoice.credit_pack_invoiced", target: "customer"),
        "POST /console/customers/{id}/credits": AuditedRoute("credits.granted", target: "customer"),
        "POST /console/customers/{id}/trial": AuditedRoute("subscription.trial_extended", target: "customer"),
        "POST /console/customers/{id}/spend-cap": AuditedRoute("customer.spend_cap_set", target: "customer"),
        "POST /console/customers/{id}/cancel": AuditedRoute("subscription.canceled", target: "customer"),
        "POST /console/deliveries/{id}/retry": AuditedRoute("delivery.retried", target: "outbox"),
        "POST /console/webhooks": AuditedRoute("webhook_endpoint.created"),
        "POST /console/webhooks/{id}/enable": AuditedRoute("webhook_endpoint.changed", target: "webhook_endpoint"),
        "POST /console/webhooks/{id}/disable": AuditedRoute("webhook_endpoint.changed", target: "webhook_endpoint"),
        "POST /console/webhooks/{id}/rotate-secret": AuditedRoute(
            "webhook_endpoint.secret_rotated", target: "webhook_endpoint"),
        "POST /console/webhooks/{id}/delete": AuditedRoute("webhook_endpoint.deleted", target: "webhook_endpoint"),
        "POST /console/invoices/{id}/finalize": AuditedRoute("invoice.finalized", target: "invoice"),
        "POST /console/invoices/{id}/pay": AuditedRoute("invoice.paid", target: "invoice"),
        "POST /console/invoices/{id}/void": AuditedRoute("invoice.voided", target: "invoice"),
        "POST /console/invoices/{id}/credit-notes": AuditedRoute("invoice.credit_note_issued", target: "invoice"),
        "POST /console/api-keys": AuditedRoute("api_key.created"),
        "POST /console/api-keys/{id}/revoke": AuditedRoute("api_key.revoked", target: "api_key"),
        "POST /console/api-keys/{id}/rotate": AuditedRoute("api_key.rotated", target: "api_key"),
        "POST /console/operators": AuditedRoute("operator.invited"),
        "POST /console/operators/{id}/role": AuditedRoute("operator.role_changed", target: "operator"),
        "POST /console/operators/{id}/remove": AuditedRoute("operator.removed", target: "operator"),
        // The portal: the same changes as the API's, by the signed-in user.
        "POST /portal/login": AuditedRoute("auth.signed_in"),
        "POST /portal/signup": AuditedRoute("account.sign_up_requested"),
        "POST /portal/verify-email": AuditedRoute("account.email_verified"),
        "POST /portal/confirm-email": AuditedRoute("account.email_changed"),
        "POST /portal/reset-password/request": AuditedRoute("auth.password_reset_requested"),
        "POST /portal/reset-password": AuditedRoute("auth.password_reset"),
        "POST /portal/logout": AuditedRoute("auth.signed_out"),
        "POST /portal/upgrade": AuditedRoute("subscription.plan_changed"),
        "POST /portal/cancel": AuditedRoute("subscription.canceled"),
        "POST /portal/credit-packs": AuditedRoute("invoice.credit_pack_invoiced"),
        "POST /portal/resume": AuditedRoute("subscription.resumed"),
        "POST /portal/payment": AuditedRoute("subscription.billing_portal_opened", byDoor: true),
        "POST /portal/workspaces": AuditedRoute("workspace.created"),
        "POST /portal/workspaces/{id}/invite": AuditedRoute(
            "workspace.member_invited", target: "workspace", workspace: "id"),
        "POST /portal/workspaces/{id}/members/{userId}/role": AuditedRoute(
            "workspace.role_changed", target: "account", parameter: "userId", workspace: "id"),
        "POST /portal/workspaces/{id}/members/{userId}/remove": AuditedRoute(
            "workspace.member_removed", target: "account", parameter: "userId", workspace: "id"),
        "POST /portal/workspaces/{id}/transfer": AuditedRoute(
            "workspace.ownership_transferred", target: "workspace", workspace: "id"),
        "POST /portal/join": AuditedRoute("workspace.invitation_accepted"),
        "POST /portal/security/totp": AuditedRoute("auth.totp_enrolment_started"),
        "POST /portal/security/totp/confirm": AuditedRoute("auth.totp_enabled"),
        "POST /portal/security/totp/disable": AuditedRoute("auth.totp_disabled"),
        "POST /portal/password": AuditedRoute("account.password_changed"),
        "POST /portal/email": AuditedRoute("account.email_change_requested"),
        "POST /portal/sessions/{id}/revoke": AuditedRoute("auth.session_revoked", target: "session"),
    ]

    /// The values of a template's `{name}` segments in a concrete path.
    static func parameters(template: String, path: String) -> [String: String] {
        let names = template.split(separator: "/", omittingEmptySubsequences: true)
        let values = path.split(separator: "/", omittingEmptySubsequences: true)
        guard names.count == values.count else { return [:] }
        var found: [String: String] = [:]
        for (name, value) in zip(names, values) where name.hasPrefix("{") && name.hasSuffix("}") {
            found[String(name.dropFirst().dropLast())] = String(value).removingPercentEncoding ?? String(value)
        }
        return found
    }
}
