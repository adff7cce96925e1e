import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// The console's forms on a customer, each through the service the API uses.
extension ConsolePages {
    private func customerPath(_ id: String, notice: String) -> String {
        "/console/customers/\(Paths.segment(id))?notice=\(notice)"
    }

    /// Puts the customer on a plan, as `PUT /v1/customers/{id}/plan` and `tollgate customers
    /// set-plan` do (a deal made outside Tollgate's billing).
    @Sendable func changePlan(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let plan = try form.required("plan")
        _ = try await meter.customers.changePlan(customerId: id, planId: plan)
        return ConsoleRequest.seeOther(customerPath(id, notice: "plan_changed"))
    }

    /// Changes the plan of the customer's live subscription through the provider that runs it, as
    /// `POST /v1/billing/change-plan` and the portal do: upgrades at once, downgrades at the end of
    /// the period.
    @Sendable func changeSubscriptionPlan(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let plan = try Validate.identifier(try form.required("plan"), field: "plan")
        let key = try Validate.identifier(try form.required("key"), field: "key")
        let (live, change, provider) = try await billing.changePlan(customer: id, to: plan, idempotencyKey: key)
        context.audit.subscription(live, change.subscription, provider: provider.rawValue)
        context.audit.once(key)
        return ConsoleRequest.seeOther(customerPath(id, notice: "subscription_plan_changed"))
    }

    /// Starts a plan's trial for the customer through the provider that bills them; Stripe's
    /// trial starts on its Checkout page, whose link the operator sends the customer.
    @Sendable func startTrial(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let order = PlanOrder(
            customer: id, planId: try form.required("plan"), interval: try Self.interval(form),
            currency: try Self.currency(form),
            idempotencyKey: try Validate.identifier(form.required("key"), field: "key"))
        context.audit.action("subscription.trial_started")
        switch try await billing.startTrial(order, returnTo: CheckoutPages.plan(settings.publicBase)) {
        case .made: return ConsoleRequest.seeOther(customerPath(id, notice: "customer_trial_started"))
        case .onProviderPage(_, let url):
            context.audit.action("subscription.checkout_started")
            return try await checkoutLinkPage(id, url: url, request, context)
        }
    }

    /// Sells a credit pack as the portal sells it: through Stripe's Checkout, or on the invoices of
    /// the customer's paid subscription (never on account to a customer nothing bills).
    @Sendable func sellCreditPack(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let key = try Validate.identifier(try form.required("key"), field: "key")
        context.audit.once(key)
        let sale = try await billing.sellOfferedCreditPack(
            form.first("pack"), customer: id, idempotencyKey: key,
            returnTo: CheckoutPages.creditPack(settings.publicBase))
        switch sale {
        case .made: return ConsoleRequest.seeOther(customerPath(id, notice: "credit_pack_sold"))
        case .onProviderPage(_, let url):
            context.audit.action("credits.pack_checkout_started")
            return try await checkoutLinkPage(id, url: url, request, context)
        }
    }

    /// The customer's page with the provider's link to send them.
    private func checkoutLinkPage(_ id: String, url: String, _ request: Request, _ context: ConsoleContext)
        async throws -> Response
    {
        let frame = frame(request, context, "customers")
        var data = try await customerData(id, language: frame.locale)
        data.checkoutLink = url
        return ConsoleRequest.html(frame.customerPage(data), request: request)
    }

    static func interval(_ form: FormFields) throws -> BillingInterval {
        try BillingInterval(rawValue: form.first("interval") ?? "month").orThrow(
            .invalidField("interval", "month or year"))
    }

    static func currency(_ form: FormFields) throws -> Currency {
        try Currency(try form.required("currency")).orThrow(.invalidField("currency", "an ISO 4217 code such as EUR"))
    }

    @Sendable func grantCredits(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        guard let amount = Int64(try form.required("amount")), amount > 0 else {
            throw DomainError.invalidField("amount", "a whole number of credits, 1 or more")
        }
        let key = try Validate.identifier(try form.required("key"), field: "key")
        context.audit.once(key)
        _ = try await credits.grant(
            customerId: id, amount: amount, creditType: form.first("creditType"), expiresAt: nil, priority: 0,
            reason: .grant, reference: "console:\(context.signedIn.account.id)", idempotencyKey: "console:" + key)
        return ConsoleRequest.seeOther(customerPath(id, notice: "credits_granted"))
    }

    @Sendable func extendTrial(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        guard let days = Int(try form.required("days")), (1...365).contains(days) else {
            throw DomainError.invalidField("days", "a whole number of days from 1 to 365")
        }
        guard let (live, provider) = try await billing.live(customer: id), live.status == .trialing,
            let trialEnd = live.trialEnd
        else { throw DomainError(.conflict, "customer \(id) has no trial running", field: "days") }
        guard provider.kind == .manual else {
            let name = provider.kind.rawValue
            throw DomainError(.conflict, "a \(name) trial is extended in \(name)'s own dashboard", field: "days")
        }
        _ = try await subscriptions.extendTrial(live, until: trialEnd + TimeInterval(days) * 86_400)
        return ConsoleRequest.seeOther(customerPath(id, notice: "trial_extended"))
    }

    @Sendable func setSpendCap(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        let text = form.first("amount")?.trimmingCharacters(in: .whitespaces) ?? ""
        var cap: Money?
        if !text.isEmpty {
            guard let currency = form.first("currency").flatMap(Currency.init) else {
                throw DomainError.invalidField("currency", "an ISO 4217 code such as EUR")
            }
            guard let minor = MoneyInput.minorUnits(text, currency: currency), minor >= 0 else {
                throw DomainError.invalidField(
                    "amount", "an amount such as 50 or 49.90, with at most \(currency.minorUnitDigits) decimals")
            }
            cap = Money(minor, currency)
        }
        if cap == nil { context.audit.action("customer.spend_cap_removed") }
        _ = try await meter.customers.setSpendCap(customerId: id, cap: cap)
        return ConsoleRequest.seeOther(customerPath(id, notice: "spend_cap"))
    }

    @Sendable func cancel(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Validate.pathIdentifier(context)
        let form = try await FormFields.read(request, context: context)
        // Whichever provider runs it, as the API cancels it (Stripe confirms by webhook).
        let (live, after, _) = try await billing.cancel(customer: id, atPeriodEnd: form.first("now") != "true")
        record(
            context, target: "subscription:\(live.id)", before: ["status": live.status.rawValue],
            after: ["status": after.status.rawValue, "cancelAtPeriodEnd": after.cancelAtPeriodEnd ? "true" : "false"])
        return ConsoleRequest.seeOther(
            customerPath(id, notice: after.cancelAtPeriodEnd ? "cancels_at_period_end" : "canceled"))
    }
}

/// An amount typed by a person (`50`, `49.90`, `49,90`) in a currency's minor units; nil when it
/// is not one, or has more decimals than the currency.
enum MoneyInput {
    static func minorUnits(_ text: String, currency: Currency) -> Int64? {
        let normalized = text.replacingOccurrences(of: ",", with: ".")
        let parts = normalized.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0,
            parts[0].allSatisfy(\.isASCII)
        else { return nil }
        let digits = currency.minorUnitDigits
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= digits, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
            parts.count == 1 || !fraction.isEmpty
        else { return nil }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let padded = fraction + String(repeating: "0", count: digits - fraction.count)
        let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        return product + (Int64(padded) ?? 0)
    }
}
