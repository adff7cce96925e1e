import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

/// Who may call each route, for every route the router serves. A route added without a line here
/// fails the first test; a line whose rule the server does not enforce fails the others.
@Suite struct AuthorizationTableTests {
    enum Access: Equatable, CustomStringConvertible {
        /// No credentials.
        case open
        /// A secret API key with this scope (or `admin`).
        case key(Scope)
        /// An end user's access token.
        case user
        /// An end user whose role in the workspace `{id}` may do this.
        case workspace(WorkspaceAction)
        /// An operator signed in to the console whose role may do this (and, on a form, its
        /// session's CSRF token).
        case console(OperatorAction)
        /// An end user signed in to the portal (its cookie; and, on a form, its CSRF token).
        /// Workspace forms then need the role the workspace's API route needs (`PortalTests`).
        case portal

        var description: String {
            switch self {
            case .open: return "public"
            case .key(let scope): return "key with \(scope.rawValue)"
            case .user: return "end user"
            case .workspace(let action): return "workspace role that may \(action.rawValue)"
            case .console(let action): return "operator whose role may \(action.rawValue)"
            case .portal: return "end user signed in to the portal"
            }
        }
    }

    static let table: [String: Access] = [
        "GET /": .open,
        "GET /docs": .open,
        "GET /openapi.yaml": .open,
        "GET /health": .open,
        "GET /health/ready": .open,
        "GET /.well-known/jwks.json": .open,
        "POST /v1/auth/register": .open,
        "POST /v1/auth/login": .open,
        "POST /v1/auth/refresh": .open,
        "POST /v1/auth/verify-email": .open,
        "POST /v1/auth/password-reset": .open,
        "POST /v1/auth/password-reset/confirm": .open,
        // The link's token is the credential (mailed to the new address).
        "POST /v1/auth/email-change/confirm": .open,
        // Stripe calls it; the signature is its credential.
        "POST /v1/billing/webhook": .open,
        // The sealed address in the token is the credential (a link in a mail).
        "GET /v1/mail/unsubscribe": .open,
        "POST /v1/mail/unsubscribe": .open,
        "GET /v1/me/mail-preferences": .user,
        "PUT /v1/me/mail-preferences": .user,

        "POST /v1/auth/logout": .user,
        "PATCH /v1/me": .user,
        "POST /v1/me/password": .user,
        "POST /v1/me/email": .user,
        "GET /v1/me/export": .user,
        "DELETE /v1/me": .user,
        "DELETE /v1/customers/{id}/personal-data": .key(.customersWrite),
        "GET /v1/me": .user,
        "GET /v1/me/workspace": .user,
        "GET /v1/me/sessions": .user,
        "DELETE /v1/me/sessions/{id}": .user,
        "POST /v1/me/2fa/totp": .user,
        "POST /v1/me/2fa/totp/confirm": .user,
        "POST /v1/me/2fa/totp/disable": .user,
        "GET /v1/me/entitlements": .user,
        "GET /v1/me/usage/current": .user,
        "GET /v1/me/usage/history": .user,
        "GET /v1/me/subscription": .user,
        "POST /v1/workspaces": .user,
        "GET /v1/workspaces": .user,
        "POST /v1/workspaces/{id}/invitations/{token}": .user,
        "GET /v1/workspaces/{id}": .workspace(.view),
        "PATCH /v1/workspaces/{id}": .workspace(.rename),
        "DELETE /v1/workspaces/{id}": .workspace(.delete),
        "GET /v1/workspaces/{id}/members": .workspace(.listMembers),
        "POST /v1/workspaces/{id}/members/invite": .workspace(.invite),
        "PATCH /v1/workspaces/{id}/members/{userId}": .workspace(.changeRole),
        "DELETE /v1/workspaces/{id}/members/{userId}": .workspace(.removeMember),
        "GET /v1/workspaces/{id}/quota": .workspace(.viewQuota),
        "POST /v1/workspaces/{id}/transfer": .workspace(.transferOwnership),
        // On a plan without audit_log the owner is refused TIER_LIMITED (AuditTrailTests).
        "GET /v1/workspaces/{id}/audit-events": .workspace(.viewAuditLog),
        "GET /v1/audit-events": .key(.admin),

        "POST /v1/customers": .key(.customersWrite),
        "POST /v1/customers/batch": .key(.customersWrite),
        "PUT /v1/customers/{id}/plan": .key(.customersWrite),
        "PUT /v1/customers/{id}/spend-cap": .key(.customersWrite),
        "DELETE /v1/customers/{id}/spend-cap": .key(.customersWrite),
        "GET /v1/customers/{id}": .key(.entitlementsRead),
        "GET /v1/customers/{id}/entitlements": .key(.entitlementsRead),
        "GET /v1/customers/{id}/usage": .key(.entitlementsRead),
        "GET /v1/customers/{id}/credits": .key(.entitlementsRead),
        "GET /v1/customers/{id}/credits/history": .key(.entitlementsRead),
        "GET /v1/customers/{id}/credits/history.csv": .key(.entitlementsRead),
        "GET /v1/customers/{id}/invoices": .key(.entitlementsRead),
        "GET /v1/customers/{id}/invoices/upcoming": .key(.entitlementsRead),
        "PUT /v1/customers/{id}/billing-details": .key(.customersWrite),
        "GET /v1/customers/{id}/billing-details": .key(.entitlementsRead),
        "POST /v1/customers/{id}/invoice-items": .key(.billingWrite),
        "POST /v1/customers/{id}/credit-packs": .key(.billingWrite),
        "POST /v1/invoices": .key(.billingWrite),
        "GET /v1/invoices/{id}": .key(.entitlementsRead),
        "POST /v1/invoices/{id}/finalize": .key(.billingWrite),
        "POST /v1/invoices/{id}/credit-notes": .key(.billingWrite),
        "GET /v1/invoices/{id}/credit-notes": .key(.entitlementsRead),
        "GET /v1/credit-notes/{id}": .key(.entitlementsRead),
        "GET /v1/invoices/{id}.pdf": .key(.entitlementsRead),
        "GET /v1/credit-notes/{id}.pdf": .key(.entitlementsRead),
        "GET /v1/invoices/export.csv": .key(.admin),
        "GET /v1/tax/oss": .key(.admin),
        "GET /v1/analytics/invoicing": .key(.admin),
        "GET /v1/analytics/invoicing.csv": .key(.admin),
        "POST /v1/invoices/{id}/pay": .key(.billingWrite),
        "POST /v1/invoices/{id}/void": .key(.billingWrite),
        "POST /v1/invoices/{id}/mark-uncollectible": .key(.billingWrite),
        "GET /v1/customers/{id}/subscriptions": .key(.entitlementsRead),
        "POST /v1/check": .key(.entitlementsRead),
        "POST /v1/consume": .key(.usageWrite),
        "POST /v1/release": .key(.usageWrite),
        "POST /v1/events": .key(.usageWrite),
        "POST /v1/credits/debit": .key(.usageWrite),
        "POST /v1/credits/reserve": .key(.usageWrite),
        "POST /v1/credits/reservations/{id}/commit": .key(.usageWrite),
        "POST /v1/credits/reservations/{id}/release": .key(.usageWrite),
        "POST /v1/customers/{id}/credits/grants": .key(.billingWrite),
        "POST /v1/credits/packs/checkout": .key(.billingWrite),
        "POST /v1/billing/trial": .key(.billingWrite),
        "POST /v1/billing/checkout": .key(.billingWrite),
        "POST /v1/billing/portal": .key(.billingWrite),
        "POST /v1/billing/cancel": .key(.billingWrite),
        "POST /v1/billing/subscriptions": .key(.billingWrite),
        "POST /v1/billing/change-plan": .key(.billingWrite),
        "POST /v1/api-keys": .key(.admin),
        "GET /v1/api-keys": .key(.admin),
        "DELETE /v1/api-keys/{id}": .key(.admin),
        "POST /v1/api-keys/{id}/rotate": .key(.admin),
        "GET /v1/analytics/revenue": .key(.admin),
        "GET /v1/analytics/revenue.csv": .key(.admin),
        "GET /v1/analytics/customers": .key(.admin),
        "GET /v1/analytics/customers.csv": .key(.admin),
        "GET /v1/analytics/usage": .key(.admin),
        "GET /v1/analytics/usage.csv": .key(.admin),
        "GET /v1/analytics/activity": .key(.admin),
        "GET /v1/analytics/activity.csv": .key(.admin),
        "GET /v1/analytics/adoption": .key(.admin),
        "GET /v1/analytics/adoption.csv": .key(.admin),
        "GET /v1/analytics/retention": .key(.admin),
        "GET /v1/analytics/retention.csv": .key(.admin),
        "POST /v1/track": .key(.usageWrite),
        "POST /v1/webhook-endpoints": .key(.admin),
        "GET /v1/webhook-endpoints": .key(.admin),
        "GET /v1/webhook-endpoints/{id}": .key(.admin),
        "PATCH /v1/webhook-endpoints/{id}": .key(.admin),
        "DELETE /v1/webhook-endpoints/{id}": .key(.admin),
        "POST /v1/webhook-endpoints/{id}/rotate-secret": .key(.admin),
        "GET /v1/webhook-endpoints/{id}/messages": .key(.admin),
        "GET /v1/webhook-messages/{id}/attempts": .key(.admin),
        "POST /v1/webhook-messages/{id}/replay": .key(.admin),
        "GET /v1/customers": .key(.entitlementsRead),
        // Public; with ?customer= it needs a key with entitlements:read or that customer's token.
        "GET /v1/catalog": .open,
        "GET /pricing": .open,
        "GET /embed/pricing": .open,

        // The operator console: pages and forms behind an operator session.
        "GET /console/login": .open,
        "POST /console/login": .open,
        "GET /console/setup": .open,
        // The setup link's token is the credential.
        "POST /console/setup": .open,
        "GET /console/assets/console.css": .open,
        "GET /console/assets/console.js": .open,
        "POST /console/logout": .console(.read),
        "GET /console": .console(.read),
        "GET /console/customers": .console(.read),
        "GET /console/customers/{id}": .console(.read),
        "GET /console/usage": .console(.read),
        "GET /console/catalog": .console(.read),
        "GET /console/deliveries": .console(.read),
        "GET /console/api-keys": .console(.read),
        "GET /console/operators": .console(.read),
        "GET /console/invoices/{id}.pdf": .console(.read),
        "GET /console/webhooks": .console(.manageWebhooks),
        "POST /console/webhooks": .console(.manageWebhooks),
        "POST /console/webhooks/{id}/enable": .console(.manageWebhooks),
        "POST /console/webhooks/{id}/disable": .console(.manageWebhooks),
        "POST /console/webhooks/{id}/rotate-secret": .console(.manageWebhooks),
        "POST /console/webhooks/{id}/delete": .console(.manageWebhooks),
        "POST /console/invoices/{id}/finalize": .console(.manageInvoices),
        "POST /console/invoices/{id}/pay": .console(.manageInvoices),
        "POST /console/invoices/{id}/void": .console(.manageInvoices),
        "POST /console/invoices/{id}/credit-notes": .console(.manageInvoices),
        "POST /console/customers/{id}/plan": .console(.changePlan),
        "POST /console/customers/{id}/trial-start": .console(.changePlan),
        "POST /console/customers/{id}/subscription-plan": .console(.changePlan),
        "POST /console/customers/{id}/credit-packs": .console(.manageInvoices),
        "POST /console/customers/{id}/credits": .console(.grantCredits),
        "POST /console/customers/{id}/trial": .console(.extendTrial),
        "POST /console/customers/{id}/spend-cap": .console(.setSpendCap),
        "POST /console/customers/{id}/cancel": .console(.cancelSubscription),
        "POST /console/deliveries/{id}/retry": .console(.retryDelivery),
        "POST /console/api-keys": .console(.manageAPIKeys),
        "POST /console/api-keys/{id}/revoke": .console(.manageAPIKeys),
        "POST /console/api-keys/{id}/rotate": .console(.manageAPIKeys),
        "GET /console/audit": .console(.viewAudit),
        "POST /console/operators": .console(.manageOperators),
        "POST /console/operators/{id}/role": .console(.manageOperators),
        "POST /console/operators/{id}/remove": .console(.manageOperators),
        // The portal: its sign-in, sign-up, e-mail links and reset before a session…
        "GET /portal/login": .open,
        "POST /portal/login": .open,
        "GET /portal/signup": .open,
        "POST /portal/signup": .open,
        "GET /portal/verify-email": .open,
        "POST /portal/verify-email": .open,
        "GET /portal/confirm-email": .open,
        "POST /portal/confirm-email": .open,
        "GET /portal/reset-password": .open,
        "POST /portal/reset-password/request": .open,
        "POST /portal/reset-password": .open,
        // …and everything else behind one.
        "POST /portal/logout": .portal,
        "GET /portal": .portal,
        "GET /portal/plan": .portal,
        "GET /portal/billing": .portal,
        "GET /portal/credits": .portal,
        "GET /portal/upgrade": .portal,
        "POST /portal/upgrade": .portal,
        "POST /portal/cancel": .portal,
        "POST /portal/credit-packs": .portal,
        "POST /portal/resume": .portal,
        "POST /portal/payment": .portal,
        "GET /portal/invoices": .portal,
        "GET /portal/invoices/{id}.pdf": .portal,
        "GET /portal/workspace": .portal,
        "POST /portal/workspaces": .portal,
        "POST /portal/workspaces/{id}/invite": .portal,
        "POST /portal/workspaces/{id}/members/{userId}/role": .portal,
        "POST /portal/workspaces/{id}/members/{userId}/remove": .portal,
        "POST /portal/workspaces/{id}/transfer": .portal,
        "GET /portal/join": .portal,
        "POST /portal/join": .portal,
        "GET /portal/security": .portal,
        "POST /portal/security/totp": .portal,
        "POST /portal/security/totp/confirm": .portal,
        "POST /portal/security/totp/disable": .portal,
        "POST /portal/password": .portal,
        "POST /portal/email": .portal,
        "POST /portal/sessions/{id}/revoke": .portal,
    ]

    /// The routes as the router serves them, `METHOD /path`.
    static func servedRoutes() async throws -> Set<String> {
        try await TestDatabase.sqlite.withStore { store, _ in
            let dependencies = AppDependencies(
                catalog: try Fixtures.catalog, store: store, databaseKind: .sqlite, clock: SystemClock(),
                logger: TestDatabase.logger, signingKeys: TestKeys.ring, secretBox: TestKeys.box,
                passwordPolicy: TestKeys.policy, shutdown: {})
            let router = buildRouter(dependencies, Services(dependencies, meter: makeMeter(dependencies).0))
            return Set(router.routes.map { "\($0.method) \($0.path.description.hasPrefix("/") ? "" : "/")\($0.path)" })
        }
    }

    @Test func everyRouteHasAnAuthorizationDecision() async throws {
        let served = try await Self.servedRoutes()
        let declared = Set(Self.table.keys)
        #expect(served.subtracting(declared).isEmpty, "no decision for \(served.subtracting(declared).sorted())")
        #expect(declared.subtracting(served).isEmpty, "not served: \(declared.subtracting(served).sorted())")
    }

    static func split(_ route: String) -> (HTTPRequest.Method, String) {
        let parts = route.split(separator: " ", maxSplits: 1)
        let path = String(parts[1]).replacingOccurrences(of: "{id}", with: "x")
            .replacingOccurrences(of: "{userId}", with: "nobody").replacingOccurrences(of: "{token}", with: "t")
        return (HTTPRequest.Method(String(parts[0]))!, path)
    }

    static let denied: Set<HTTPResponse.Status> = [.unauthorized, .forbidden]

    @Test func keysAndTokensAreHeldToTheTable() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let user = try await AccountTests.signUp(app, client, email: "user@example.com")
            for (route, access) in Self.table.sorted(by: { $0.key < $1.key }) {
                let (method, path) = Self.split(route)
                if case .open = access {
                    // Public routes include pages and documents, not only JSON.
                    let answer = try await client.send(
                        uri: path, method: method, headers: [.contentType: "application/json"],
                        body: ByteBuffer(string: "{}"))
                    #expect(!Self.denied.contains(answer.status), "\(route) is public: \(answer.status)")
                    continue
                }
                if case .console = access {
                    // No session: a page leads to the sign-in page, a form is refused; neither an
                    // API key nor an end user's token opens the console.
                    for credential in [nil, app.adminKey, user.access] {
                        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                        if let credential { headers[.authorization] = "Bearer \(credential)" }
                        let answer = try await client.send(
                            uri: path, method: method, headers: headers, body: ByteBuffer(string: "csrf=x"))
                        if method == .get {
                            #expect(
                                answer.status == .seeOther && answer.headers[.location] == "/console/login",
                                "\(route) without a session: \(answer.status)")
                        } else {
                            #expect(answer.status == .unauthorized, "\(route) without a session: \(answer.status)")
                        }
                    }
                    continue
                }
                if case .portal = access {
                    // No portal session: a page leads to the sign-in page (and back), a form is
                    // refused; an API key, an end user's access token or a forged cookie open nothing.
                    for (credential, cookie) in [
                        (nil, nil), (app.adminKey, nil), (user.access, nil), (nil, "tg_portal=ses_x.00"),
                    ] as [(String?, String?)] {
                        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                        if let credential { headers[.authorization] = "Bearer \(credential)" }
                        if let cookie { headers[.cookie] = cookie }
                        let answer = try await client.send(
                            uri: path, method: method, headers: headers, body: ByteBuffer(string: "csrf=x"))
                        if method == .get {
                            #expect(
                                answer.status == .seeOther
                                    && answer.headers[.location]?.hasPrefix("/portal/login?next=") == true,
                                "\(route) without a session: \(answer.status)")
                        } else {
                            #expect(answer.status == .unauthorized, "\(route) without a session: \(answer.status)")
                        }
                    }
                    continue
                }
                let anonymous = try await client.call(method, path, key: nil, json: "{}")
                switch access {
                case .open:
                    break
                case .key(let scope):
                    #expect(anonymous.status == .unauthorized, "\(route) without a key")
                    let others = Scope.allCases.filter { $0 != scope && $0 != .admin }
                    let lacking = try await client.call(
                        method, path, key: try await app.key(scopes: others), json: "{}")
                    #expect(
                        lacking.status == .forbidden && "\(lacking.json)".contains(scope.rawValue),
                        "\(route) with every scope but \(scope.rawValue): \(lacking.status)")
                    let holder = try await app.key(scopes: [scope])
                    if path.hasSuffix(".csv") {
                        // A download: CSV when allowed, not JSON.
                        let holding = try await client.send(
                            uri: path, method: method, headers: [.authorization: "Bearer \(holder)"])
                        #expect(!Self.denied.contains(holding.status), "\(route) with \(scope.rawValue)")
                    } else {
                        let holding = try await client.call(method, path, key: holder, json: "{}")
                        #expect(
                            !Self.denied.contains(holding.status), "\(route) with \(scope.rawValue): \(holding.json)")
                    }
                    #expect(try await client.call(method, path, key: user.access, json: "{}").status == .unauthorized)
                case .user, .workspace:
                    #expect(anonymous.status == .unauthorized, "\(route) without a token")
                    let withKey = try await client.call(method, path, key: app.adminKey, json: "{}")
                    #expect(withKey.status == .unauthorized, "\(route) with an API key: \(withKey.status)")
                case .console, .portal:
                    break
                }
            }
        }
    }

    /// What each workspace route needs of a member, tried with every role below the owner.
    @Test func workspaceRoutesFollowTheRoleMatrix() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let owner = try await WorkspaceTests.person(app, client, "owner")
            let workspace = try await WorkspaceTests.createWorkspace(client, owner, plan: nil, app: app)
            let bodies: [WorkspaceAction: String] = [
                .rename: #"{"name":"Renamed"}"#, .invite: #"{"email":"guest@example.com","role":"VIEWER"}"#,
                .changeRole: #"{"role":"MEMBER"}"#, .transferOwnership: #"{"userId":"nobody"}"#,
            ]
            for role in [WorkspaceRole.viewer, .member, .admin] {
                let member = try await WorkspaceTests.join(
                    client, app, workspace: workspace, owner: owner, name: role.rawValue.lowercased(),
                    role: role.rawValue)
                for (route, access) in Self.table.sorted(by: { $0.key < $1.key }) {
                    guard case .workspace(let action) = access, action != .delete else { continue }
                    let (method, template) = Self.split(route)
                    let path = template.replacingOccurrences(of: "/workspaces/x", with: "/workspaces/\(workspace)")
                    let answer = try await client.call(method, path, key: member.access, json: bodies[action] ?? "{}")
                    if role.may(action) {
                        #expect(!Self.denied.contains(answer.status), "\(role) \(route): \(answer.json)")
                    } else {
                        #expect(answer.status == .forbidden, "\(role) \(route): \(answer.status) \(answer.json)")
                    }
                }
                // Deleting is the owner's alone; tried last, as it succeeds.
                #expect(
                    try await client.call(.delete, "/v1/workspaces/\(workspace)", key: member.access).status
                        == .forbidden)
            }
            #expect(try await client.call(.delete, "/v1/workspaces/\(workspace)", key: owner.access).status == .ok)
        }
    }
}
