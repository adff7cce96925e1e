import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage

/// `GET /v1/catalog`: the plans as a product's own pricing page or paywall needs
/// them, without a key — in ladder order, with prices, trials and what each grants — cacheable
/// with an `ETag`. With `?customer=` and a credential (a secret key with entitlements:read, or
/// that customer's own access token) each plan also says whether it is the customer's current
/// plan, an upgrade or a downgrade.
struct PublicCatalogRoutes: Sendable {
    /// An answer's bytes and their tag.
    struct Encoded: Sendable {
        let bytes: Data
        let tag: String

        init(_ body: PublicCatalog) throws {
            bytes = try TollgateJSON.encoder.encode(body)
            tag = "\"" + Hex.encode(SHA256.hash(data: bytes).prefix(16)) + "\""
        }
    }

    let catalog: Catalog
    let keys: APIKeyAuthenticator
    let accounts: AccountService
    let customers: CustomerDirectory
    /// The answers without a customer, by currency code ("" for every currency): the catalog does
    /// not change while the server runs, so they are encoded once.
    let published: [String: Encoded]

    init(catalog: Catalog, keys: APIKeyAuthenticator, accounts: AccountService, customers: CustomerDirectory) throws {
        self.catalog = catalog
        self.keys = keys
        self.accounts = accounts
        self.customers = customers
        var published = ["": try Encoded(PublicCatalog(catalog, currency: nil, current: nil))]
        for currency in catalog.planCurrencies {
            published[currency.code] = try Encoded(PublicCatalog(catalog, currency: currency, current: nil))
        }
        self.published = published
    }

    func register(on router: Router<TollgateRequestContext>) {
        router.get("v1/catalog", use: answer)
    }

    @Sendable func answer(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var currency: Currency?
        if let code = query.get("currency"), !code.isEmpty {
            guard let priced = catalog.planCurrency(code) else {
                throw HTTPOnlyError(.invalidQuery, "currency: the catalog has no prices in \(code)", field: "currency")
            }
            currency = priced
        }
        var currentPlan: Plan?
        if let customer = query.get("customer"), !customer.isEmpty {
            let id = try Validate.identifier(customer, field: "customer")
            try await authorize(request, customer: id)
            let record = try await customers.customer(id: id)
            currentPlan = catalog.plan(record.planId) ?? catalog.defaultPlan
        }
        let answer =
            try currentPlan.map { try Encoded(PublicCatalog(catalog, currency: currency, current: $0)) }
            ?? published[currency?.code ?? ""]!
        let tag = answer.tag
        var headers: HTTPFields = [
            .eTag: tag, .vary: "Authorization",
            .cacheControl: currentPlan == nil ? "public, max-age=300" : "private, no-cache",
        ]
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == tag || $0 == "*" })
        {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.bytes)))
    }

    /// A secret key with entitlements:read, or the customer's own access token.
    private func authorize(_ request: Request, customer: String) async throws {
        let token = try BearerToken.from(request, naming: "credential", expected: "tg_sk_… or an access token")
        if token.hasPrefix(APIKeys.secretPrefix) {
            try await keys.caller(secret: token).require(.entitlementsRead)
            return
        }
        let user = try await accounts.authenticate(accessToken: token)
        guard user.userId == customer else {
            throw DomainError(.forbidden, "an access token may only ask about its own user", field: "customer")
        }
    }
}

/// The answer of `GET /v1/catalog`.
struct PublicCatalog: Encodable {
    struct PriceEntry: Encodable {
        let currency: String
        let interval: String
        let amount: Int64
        @NullEncoded var perSeatAmount: Int64?
        @NullEncoded var minimumSeats: Int?
        @NullEncoded var maximumSeats: Int?

        init(_ price: Price) {
            currency = price.currency.code
            interval = price.interval.rawValue
            amount = price.amount
            perSeatAmount = price.perSeatAmount
            minimumSeats = price.minimumSeats
            maximumSeats = price.maximumSeats
        }
    }

    struct Overage: Encodable {
        let per: Int64
        let prices: [Amount]
    }

    struct Amount: Encodable {
        let currency: String
        let amount: Int64
    }

    struct FeatureEntry: Encodable {
        let feature: String
        let name: String
        let type: String
        let included: Bool
        /// Null when unlimited or not counted.
        @NullEncoded var limit: Int64?
        let unlimited: Bool
        @NullEncoded var period: String?
        @NullEncoded var overage: Overage?
    }

    struct PlanEntry: Encodable {
        let id: String
        let name: String
        let order: Int
        let prices: [PriceEntry]
        @NullEncoded var trialDays: Int?
        let trialRequiresPaymentMethod: Bool
        let features: [FeatureEntry]
        /// `current`, `upgrade` or `downgrade`, with `?customer=`; otherwise absent.
        let relation: String?
    }

    struct AddOnEntry: Encodable {
        struct Extra: Encodable {
            let feature: String
            let amount: Int64
        }
        let id: String
        let name: String
        let prices: [PriceEntry]
        /// What the add-on adds to each feature's limit.
        let features: [Extra]
        let plans: [String]
    }

    struct PackEntry: Encodable {
        let id: String
        let name: String
        let creditType: String
        let amount: Int64
        let prices: [PriceEntry]
    }

    let product: String
    let name: String
    @NullEncoded var currency: String?
    let plans: [PlanEntry]
    let addOns: [AddOnEntry]
    let creditPacks: [PackEntry]

    init(_ catalog: Catalog, currency: Currency?, current: Plan?) {
        let prices = { (list: [Price]) in
            list.filter { currency == nil || $0.currency == currency }.map(PriceEntry.init)
        }
        product = catalog.product
        name = catalog.name
        self.currency = currency?.code
        plans = catalog.plans.sorted { ($0.order, $0.id) < ($1.order, $1.id) }.map { plan in
            PlanEntry(
                id: plan.id, name: plan.name, order: plan.order, prices: prices(plan.prices),
                trialDays: plan.trial?.days, trialRequiresPaymentMethod: plan.trial?.requiresPaymentMethod ?? false,
                features: catalog.features.map { Self.entry($0, plan.features[$0.id], currency: currency) },
                relation: current.map { current in
                    plan.id == current.id ? "current" : plan.order > current.order ? "upgrade" : "downgrade"
                })
        }
        addOns = catalog.addOns.map { addOn in
            AddOnEntry(
                id: addOn.id, name: addOn.name, prices: prices(addOn.prices),
                features: addOn.features.sorted { $0.key < $1.key }.map {
                    AddOnEntry.Extra(feature: $0.key, amount: $0.value)
                },
                plans: addOn.plans)
        }
        creditPacks = catalog.creditPacks.map {
            PackEntry(id: $0.id, name: $0.name, creditType: $0.creditType, amount: $0.amount, prices: prices($0.prices))
        }
    }

    static func entry(_ feature: FeatureDefinition, _ grant: FeatureGrant?, currency: Currency?) -> FeatureEntry {
        var included = false, limit: Int64?, unlimited = false, period: ResetPeriod?, overage: Overage?
        switch grant {
        case nil, .boolean(false): break
        case .boolean(true): included = true
        case .limit(let bound):
            (limit, unlimited) = (bound.value, bound == .unlimited)
            included = limit != 0
            period = .lifetime
        case .metered(let bound, let reset, let price):
            (limit, unlimited) = (bound.value, bound == .unlimited)
            included = limit != 0 || price != nil
            period = reset
            overage = price.map { price in
                Overage(
                    per: price.per,
                    prices: price.unitAmounts.filter { currency == nil || $0.key == currency }
                        .sorted { $0.key.code < $1.key.code }.map { Amount(currency: $0.key.code, amount: $0.value) })
            }
        }
        return FeatureEntry(
            feature: feature.id, name: feature.name, type: feature.type.rawValue, included: included, limit: limit,
            unlimited: unlimited, period: period?.rawValue, overage: overage)
    }
}
