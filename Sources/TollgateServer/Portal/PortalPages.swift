import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateDocuments
import TollgateIdentity
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// The portal's pages once signed in. Every handler reads and changes
/// only the signed-in user's own records, or a workspace's through `WorkspaceService`, which
/// checks the user's role there; actions go through the same services as the API.
struct PortalPages: Sendable {
    let catalog: Catalog
    let accounts: AccountService
    let workspaces: WorkspaceService
    let meter: Meter
    let subscriptions: SubscriptionService
    let billing: Billing
    let stripe: StripeBilling
    let invoices: InvoiceService
    let credits: CreditService
    let store: any ReadModel
    let clock: any TollgateClock
    let productName: String
    /// Where "Contact sales" leads (a `mailto:` link or a URL).
    let salesContact: String?
    /// This server's address as the user's browser reaches it, for Stripe to send them back.
    let publicBase: String
    let documents: DocumentRenderer

    func register(on portal: RouterGroup<PortalContext>) {
        portal.get(use: home)
        // Where e-mails' buttons lead (`MessageRenderer.actionPaths`).
        for alias in ["plan", "billing", "credits"] { portal.get(RouterPath(alias), use: toHome) }
        portal.get("upgrade", use: upgradePage)
        portal.post("upgrade", use: upgrade)
        portal.post("cancel", use: cancel)
        portal.post("credit-packs", use: buyCreditPack)
        portal.post("resume", use: resume)
        portal.post("payment", use: stripePortal)
        portal.get("invoices", use: invoiceList)
        portal.get("invoices/{id}.pdf", use: invoicePDF)
        registerAccount(on: portal)
    }

    func frame(_ request: Request, _ context: PortalContext, section: String) -> ConsoleFrame {
        PortalRequest.frame(request, signedIn: context.signedIn, productName: productName, section: section)
    }

    func planName(_ id: String) -> String { catalog.plan(id)?.name ?? id }

    @Sendable func toHome(_ request: Request, context: PortalContext) async throws -> Response {
        ConsoleRequest.seeOther("/portal")
    }

    /// The subscription that matters now: the live one, else the newest.
    func currentSubscription(_ subject: String) async throws -> (Subscription, provider: String)? {
        let all = try await store.subscriptions(subject: subject)
        return all.last { $0.0.isLive } ?? all.max { $0.0.currentPeriodStart < $1.0.currentPeriodStart }
    }

    @Sendable func home(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "portal_plan")
        let userId = context.userId
        async let entitlements = meter.entitlements(customerId: userId)
        async let balances = credits.balances(customerId: userId)
        async let memberships = workspaces.list(userId: userId)
        let current = try await currentSubscription(userId)
        let now = clock.now()
        var pools: [PortalHomeData.Pool] = []
        for membership in try await memberships where membership.role.may(.viewQuota) {
            let pool = try await meter.entitlements(customerId: membership.workspace.id)
            pools.append(
                PortalHomeData.Pool(
                    workspaceName: membership.workspace.name, planName: pool.plan.name,
                    meters: CustomerDetailData.UsageRow.meters(
                        pool, language: frame.locale, upgrades: catalog, workspace: membership.workspace.id)))
        }
        let mine = try await entitlements
        let trialDays = current.flatMap { subscription, _ -> Int? in
            guard subscription.status == .trialing, let end = subscription.trialEnd else { return nil }
            return max(0, Int((end.timeIntervalSince(now) / 86_400).rounded(.up)))
        }
        let kind = try current.map { try billing.provider(named: $0.provider).kind }
        var data = PortalHomeData(
            planName: mine.plan.name,
            subscription: current.map {
                CustomerDetailData.SubscriptionRow(
                    $0.0, provider: $0.provider, planName: planName($0.0.planId), catalog: catalog)
            },
            pendingPlanName: current?.0.pendingPlanId.map(planName), trialDaysLeft: trialDays,
            meters: CustomerDetailData.UsageRow.meters(mine, language: frame.locale, upgrades: catalog),
            balances: try await balances.map {
                PortalHomeData.Balance(creditType: $0.creditType, available: $0.available)
            },
            pools: pools, managedHere: kind == .manual, managedByStripe: kind == .stripe)
        data.packs = try await billing.creditPacksOffered(to: userId).map {
            PortalHomeData.Pack(id: $0.pack.id, name: $0.pack.name, credits: $0.pack.amount, price: $0.price.money)
        }
        data.formKey = Secrets.randomId(prefix: "pack_")
        data.packsOnInvoice = try await billing.provider(for: userId).kind == .manual
        return ConsoleRequest.html(
            frame.portalHomePage(data, notice: PortalRequest.notice(request, frame: frame)), request: request)
    }

    /// Stripe's own portal for a customer Stripe bills: payment methods, its invoices, its receipts.
    @Sendable func stripePortal(_ request: Request, context: PortalContext) async throws -> Response {
        ConsoleRequest.seeOther(
            try await stripe.portal(customerId: context.userId, returnURL: publicBase + "/portal"))
    }

    @Sendable func invoiceList(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "invoices")
        let rows = try await invoices.invoices(subject: context.userId).filter { $0.status != .draft }
            .reversed().map(CustomerDetailData.InvoiceRow.init)
        return ConsoleRequest.html(frame.portalInvoicesPage(rows), request: request)
    }

    /// The user's own invoice's PDF; anyone else's is "not found".
    @Sendable func invoicePDF(_ request: Request, context: PortalContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let invoice = try await invoices.invoice(id: id)
        guard invoice.subject == context.userId, invoice.status != .draft else {
            throw DomainError(.notFound, "no invoice with id \(id)", field: "id")
        }
        try InvoiceService.requireOwn(invoice)
        return TextAnswer.pdf(try await documents.pdf(invoice), filename: "\(invoice.number ?? invoice.id).pdf")
    }
}
