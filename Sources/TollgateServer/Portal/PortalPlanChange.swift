import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// Changing plan from the portal: the page shows what confirming would do (the proration of a
/// change billed here, a downgrade's date, a trial, Stripe's checkout), and the form does exactly
/// that through the billing services.
extension PortalPages {
    /// What confirming a plan would do for this user now.
    enum Decision {
        case change(Subscription, provider: any PaymentProvider, effect: PortalUpgradeData.Outcome)
        /// A paid subscription going back to a free plan: it is canceled at the period's end.
        case cancelToFree(Subscription, provider: any PaymentProvider)
        case checkout
        case trial(days: Int, price: Money)
        case subscribe(Money)
        case contactSales(minimumSeats: Int?)
        case unavailable(String)

        func outcome(fallbackPlanName: String) -> PortalUpgradeData.Outcome {
            switch self {
            case .change(_, _, let effect): return effect
            case .cancelToFree(let subscription, _): return .changeAtPeriodEnd(subscription.currentPeriodEnd)
            case .checkout: return .checkout
            case .trial(let days, let price):
                return .startTrial(days: days, price: price, fallback: fallbackPlanName)
            case .subscribe(let price): return .subscribe(price)
            case .contactSales(let seats): return .contactSales(minimumSeats: seats, link: nil)
            case .unavailable(let reason): return .unavailable(reason)
            }
        }
    }

    /// Whose plan changes: the user's own, or with `workspace` that workspace's, which only a role
    /// that may manage its billing reaches (the OWNER).
    func billedSubject(workspace: String?, context: PortalContext) async throws -> String {
        guard let workspace, !workspace.isEmpty else { return context.userId }
        return try await workspaces.authorize(.manageBilling, workspaceId: workspace, userId: context.userId)
            .workspace.id
    }

    func decide(_ plan: Plan, choice: ConsoleFrame.PricingChoice, subject userId: String, frame: ConsoleFrame)
        async throws -> Decision
    {
        let customer = try await meter.customers.customer(id: userId)
        guard plan.id != customer.planId else { return .unavailable(frame.t("current_plan")) }
        // Whatever the subscription, a plan sold by a person is never taken from this form.
        let offer = plan.offer(currency: choice.currency, interval: choice.interval)
        if case .salesOnly(let seats) = offer { return .contactSales(minimumSeats: seats) }
        if let (live, provider) = try await billing.live(customer: userId) {
            if plan.isFree { return .cancelToFree(live, provider: provider) }
            let preview = try subscriptions.previewPlanChange(live, to: plan.id)
            let effect: PortalUpgradeData.Outcome =
                if let charge = preview.periodCharge {
                    .endTrial(charge: charge, periodEnd: preview.subscription.currentPeriodEnd)
                } else if preview.subscription.pendingPlanId != nil {
                    .changeAtPeriodEnd(live.currentPeriodEnd)
                } else {
                    .changeNow(proration: preview.proration, chargedNow: provider.chargesProrationNow)
                }
            return .change(live, provider: provider, effect: effect)
        }
        guard case .selfServe(let price) = offer else { return .unavailable(frame.t("current_plan")) }
        switch try await billing.howToStart(plan, customer: userId) {
        case .onProviderPage: return .checkout
        case .trial(let days): return .trial(days: days, price: price.money)
        case .subscribe: return .subscribe(price.money)
        }
    }

    func choice(_ request: Request, current: Subscription?) -> ConsoleFrame.PricingChoice {
        let interval =
            request.uri.queryParameters.get("interval").flatMap(BillingInterval.init(rawValue:))
            ?? current?.interval ?? .month
        let currency =
            catalog.planCurrency(request.uri.queryParameters.get("currency")) ?? current?.currency
            ?? catalog.planCurrencies.first ?? Currency("EUR")!
        return ConsoleFrame.PricingChoice(interval: interval, currency: currency)
    }

    /// `?plan=&feature=`: the paywall's deep link (a refusal's `upgradeTier`).
    @Sendable func upgradePage(_ request: Request, context: PortalContext) async throws -> Response {
        let frame = frame(request, context, section: "portal_change_plan")
        let workspace = request.uri.queryParameters.get("workspace")
        let subject = try await billedSubject(workspace: workspace, context: context)
        let customer = try await meter.customers.customer(id: subject)
        let live = try await subscriptions.liveSubscription(subject: subject)?.0
        let choice = choice(request, current: live)
        let selected = request.uri.queryParameters.get("plan").flatMap { catalog.plan($0) }
        var outcome: PortalUpgradeData.Outcome?
        var error: String?
        if let selected {
            do {
                outcome = try await decide(selected, choice: choice, subject: subject, frame: frame).outcome(
                    fallbackPlanName: catalog.defaultPlan.name)
                if case .contactSales(let seats, _) = outcome {
                    outcome = .contactSales(minimumSeats: seats, link: salesContact)
                }
            } catch let problem as DomainError {
                error = problem.message
            }
        }
        var data = PortalUpgradeData(
            plans: catalog.plans.sorted { ($0.order, $0.id) < ($1.order, $1.id) }, features: catalog.features,
            currentPlanId: customer.planId, choice: choice, selected: selected,
            feature: request.uri.queryParameters.get("feature").flatMap { catalog.feature($0) }, outcome: outcome,
            error: error)
        if subject != context.userId { data.workspace = (subject, customer.name ?? subject) }
        return ConsoleRequest.html(
            frame.portalUpgradePage(data, idempotencyKey: Secrets.randomId(prefix: "chg_")), request: request)
    }

    @Sendable func upgrade(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        let frame = frame(request, context, section: "portal_change_plan")
        guard let plan = catalog.plan(try form.required("plan")) else {
            throw DomainError(.planNotFound, "no such plan", field: "plan")
        }
        let key = try Validate.identifier(try form.required("key"), field: "key")
        let interval = try BillingInterval(rawValue: form.required("interval")).orThrow(
            .invalidField("interval", "month or year"))
        let currency = try Currency(try form.required("currency")).orThrow(.invalidField("currency", "an ISO code"))
        let choice = ConsoleFrame.PricingChoice(interval: interval, currency: currency)
        let userId = try await billedSubject(workspace: form.first("workspace"), context: context)
        let home = userId == context.userId ? "/portal" : "/portal/workspace"
        // The form sent again after it was applied (a reload, a double click): nothing more to do.
        guard try await meter.customers.customer(id: userId).planId != plan.id else {
            return ConsoleRequest.seeOther(home)
        }
        switch try await decide(plan, choice: choice, subject: userId, frame: frame) {
        case .change(let live, let provider, let effect):
            let changed = try await provider.changePlan(live, to: plan.id, idempotencyKey: key).subscription
            context.audit.subscription(live, changed, provider: provider.kind.rawValue)
            if case .changeAtPeriodEnd = effect { return ConsoleRequest.seeOther(home + "?notice=self_plan_scheduled") }
            return ConsoleRequest.seeOther(home + "?notice=self_plan_changed")
        case .cancelToFree(let live, let provider):
            context.audit.action("subscription.canceled")
            let canceled = try await provider.cancel(live, atPeriodEnd: true)
            context.audit.subscription(live, canceled, provider: provider.kind.rawValue)
            return ConsoleRequest.seeOther(home + "?notice=self_canceled")
        case .checkout, .trial, .subscribe:
            let order = PlanOrder(
                customer: userId, planId: plan.id, interval: interval, currency: currency, idempotencyKey: key)
            switch try await billing.start(order, returnTo: CheckoutPages.plan(publicBase)) {
            case .onProviderPage(_, let url): return ConsoleRequest.seeOther(url)
            case .made(let subscription) where subscription.status == .trialing:
                context.audit.action("subscription.trial_started")
                return ConsoleRequest.seeOther(home + "?notice=trial_started")
            case .made:
                context.audit.action("subscription.created")
                return ConsoleRequest.seeOther(home + "?notice=subscribed")
            }
        case .contactSales, .unavailable:
            throw DomainError(.conflict, "this plan cannot be chosen here", field: "plan")
        }
    }

    /// The same cancellation as the API's and the console's, at the period's end, whichever
    /// provider runs the subscription (Stripe confirms by webhook).
    @Sendable func cancel(_ request: Request, context: PortalContext) async throws -> Response {
        let (live, canceled, provider) = try await billing.cancel(customer: context.userId, atPeriodEnd: true)
        context.audit.subscription(live, canceled, provider: provider.rawValue)
        return ConsoleRequest.seeOther("/portal?notice=self_canceled")
    }

    /// A credit pack for the user's own account, through the provider that bills them: on the
    /// next invoice of their paid subscription, or paid on Stripe's Checkout page.
    @Sendable func buyCreditPack(_ request: Request, context: PortalContext) async throws -> Response {
        let form = try await FormFields.read(request, context: context)
        let key = try Validate.identifier(try form.required("key"), field: "key")
        context.audit.once(key)
        let sale = try await billing.sellOfferedCreditPack(
            form.first("pack"), customer: context.userId, idempotencyKey: key,
            returnTo: CheckoutPages.creditPack(publicBase))
        switch sale {
        case .made: return ConsoleRequest.seeOther("/portal?notice=credits_bought")
        case .onProviderPage(_, let url):
            context.audit.action("credits.pack_checkout_started")
            return ConsoleRequest.seeOther(url)
        }
    }

    @Sendable func resume(_ request: Request, context: PortalContext) async throws -> Response {
        let (live, _) = try await manualSubscription(context.userId)
        _ = try await subscriptions.resume(live)
        return ConsoleRequest.seeOther("/portal?notice=resumed")
    }

    /// The live subscription billed here, and its provider; Stripe's are canceled in Stripe's own
    /// portal.
    private func manualSubscription(_ userId: String) async throws -> (Subscription, any PaymentProvider) {
        guard let (live, provider) = try await billing.live(customer: userId) else {
            throw DomainError(.notFound, "you have no subscription")
        }
        guard provider.kind == .manual else {
            throw DomainError(.conflict, "this subscription is managed in Stripe's customer portal")
        }
        return (live, provider)
    }
}

extension Optional {
    /// The value, or `error` thrown.
    func orThrow(_ error: @autoclosure () -> DomainError) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
