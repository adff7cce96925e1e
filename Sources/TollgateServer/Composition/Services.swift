import Foundation
import Logging
import TollgateAnalytics
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateNotify
import TollgateSQL
import TollgateStorage

/// Every application service, built once from the dependencies: the front doors (the router),
/// the background services and the tests all hold these same instances, so one cache of keys,
/// of customers and of balances serves them all. A command of the CLI builds the same, over the
/// database it opened (`forCommand`).
public struct Services: Sendable {
    public let meter: Meter
    let invoices: InvoiceService
    let subscriptions: SubscriptionService
    let accounts: AccountService
    let workspaces: WorkspaceService
    public let apiKeys: APIKeyService
    /// Knows the live keys (a bounded cache): told by `apiKeys` of each key revoked or rotated out.
    let apiKeyAuthenticator: APIKeyAuthenticator
    let credits: CreditService
    let stripe: StripeBilling
    /// The provider of each live subscription, for every door's cancel and plan change.
    let billing: Billing
    let stripeWebhooks: StripeWebhookService
    let webhookEndpoints: WebhookEndpointService
    public let deliveries: DeliveryService
    let mailPreferences: MailPreferenceService
    let productEvents: ProductEvents
    public let operators: OperatorService
    public let auditTrail: AuditTrail
    /// What the doors read to draw a page or answer a query; they change nothing through it.
    let reads: any ReadModel
    let reports: AnalyticsReports

    init(_ dependencies: AppDependencies, meter: Meter, invoices: InvoiceService, subscriptions: SubscriptionService) {
        let store = dependencies.store
        let clock = dependencies.clock
        let catalog = dependencies.catalog
        self.meter = meter
        self.invoices = invoices
        self.subscriptions = subscriptions
        reads = store
        reports = AnalyticsReports(reads: store)
        var accountSettings = AccountSettings(audience: catalog.product)
        accountSettings.authenticatorIssuer = catalog.name
        accountSettings.passwordPolicy = dependencies.passwordPolicy
        accounts = AccountService(
            settings: accountSettings, store: store, keys: dependencies.signingKeys, box: dependencies.secretBox,
            clock: clock, defaultPlan: catalog.defaultPlanId)
        workspaces = WorkspaceService(catalog: catalog, store: store, clock: clock, box: dependencies.secretBox)
        let authenticator = APIKeyAuthenticator(store: store, clock: clock, capacity: dependencies.caches.apiKeys)
        apiKeyAuthenticator = authenticator
        apiKeys = APIKeyService(store: store, clock: clock, forget: { authenticator.forget(keyId: $0) })
        // One credit service (and one cache of balances) for the meter and every door.
        let credits = meter.credits ?? CreditService(catalog: catalog, store: store, clock: clock)
        self.credits = credits
        stripe = StripeBilling(
            catalog: catalog, store: store, client: dependencies.stripe, policy: dependencies.subscriptionPolicy,
            tax: dependencies.invoicing.stripe, clock: clock)
        billing = Billing(
            subscriptions: subscriptions, invoices: invoices, credits: credits, stripe: stripe, catalog: catalog)
        stripeWebhooks = StripeWebhookService(
            catalog: catalog, store: store,
            verifier: StripeSignatureVerifier(secrets: dependencies.stripeWebhookSecrets),
            policy: dependencies.subscriptionPolicy, clock: clock, logger: dependencies.logger,
            client: dependencies.stripe,
            grantPack: { customer, pack, reference in
                _ = try await credits.grant(
                    customerId: customer, amount: pack.amount, creditType: pack.creditType, expiresAt: nil,
                    priority: 0, reason: .purchase, reference: pack.id, idempotencyKey: reference)
            },
            invoices: invoices)
        webhookEndpoints = WebhookEndpointService(
            store: store, box: dependencies.secretBox, policy: dependencies.webhooks.policy, clock: clock)
        deliveries = DeliveryService(store: store, clock: clock)
        mailPreferences = MailPreferenceService(store: store, clock: clock)
        productEvents = ProductEvents(store: store, clock: clock)
        operators = OperatorService(
            store: store, box: dependencies.secretBox, clock: clock, passwordPolicy: dependencies.passwordPolicy,
            settings: dependencies.operatorSettings)
        auditTrail = AuditTrail(store: store, box: dependencies.secretBox, clock: clock)
    }

    /// The services over a meter, with invoicing and the subscription lifecycle made on it.
    init(_ dependencies: AppDependencies, meter: Meter) {
        let (invoices, subscriptions) = makeBilling(dependencies, service: meter)
        self.init(dependencies, meter: meter, invoices: invoices, subscriptions: subscriptions)
    }
}

extension Services {
    /// The services a command of the CLI changes state through: the ones the server builds, over
    /// the database the command opened, with its catalog and master key. A command sends no
    /// mail, asks nothing of Stripe and issues no token — the running server tells, charges and
    /// signs — so the signing key it holds is one for this run only, which nothing keeps.
    public static func forCommand(store: SQLStore, catalog: Catalog, secretBox: SecretBox, logger: Logger) -> Services {
        let clock = SystemClock()
        let dependencies = AppDependencies(
            catalog: catalog, store: store, databaseKind: store.provider.kind, clock: clock, logger: logger,
            signingKeys: SigningKeyRing(keys: [SigningKey.generate(at: clock.now())]), secretBox: secretBox,
            shutdown: {})
        return Services(dependencies, meter: makeMeter(dependencies).0)
    }
}
