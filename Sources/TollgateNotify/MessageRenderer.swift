import Foundation
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Who mail comes from, and where its links lead.
public struct MailSettings: Sendable {
    public var productName: String
    public var from: String
    /// Links in mail start here (the product's front end, which calls Tollgate's API with the token).
    public var linkBase: URL
    /// The domain after `@` in `Message-ID`s.
    public var messageIDDomain: String
    /// Features' names as the catalog gives them, by id (alerts name the feature, not its id).
    public var featureNames: [String: String]
    /// Plans' names as the catalog gives them, by id.
    public var planNames: [String: String]
    /// The language of mail whose reader has none on record.
    public var defaultLocale: String
    /// Tollgate's own address, where unsubscribe links lead (mail providers post to it: RFC 8058);
    /// nil: `linkBase`.
    public var apiBase: URL?
    /// Features' names in other languages, by id.
    public var localizedFeatureNames: [String: LocalizedText] = [:]
    /// Plans' prices, by plan id: a trial's mail states what follows it.
    public var planPrices: [String: [Price]] = [:]
    /// The plan a quota alert leads to, by feature and plan (`UsageReport.groupKey`).
    public var upgrades: [String: String] = [:]
    /// The product's colour in HTML mail (the catalog's `branding.color`, `#rrggbb`).
    public var brandColor: String?

    public init(
        productName: String, from: String, linkBase: URL, messageIDDomain: String = "tollgate.local",
        featureNames: [String: String] = [:], defaultLocale: String = MailTemplates.defaultLocale
    ) {
        self.productName = productName
        self.from = from
        self.linkBase = linkBase
        self.messageIDDomain = messageIDDomain
        self.featureNames = featureNames
        self.planNames = [:]
        self.defaultLocale = defaultLocale
    }

    /// With the names of the catalog's features and plans.
    public init(productName: String, from: String, linkBase: URL, catalog: Catalog) {
        self.init(
            productName: productName, from: from, linkBase: linkBase,
            featureNames: Dictionary(uniqueKeysWithValues: catalog.features.map { ($0.id, $0.name) }))
        planNames = Dictionary(uniqueKeysWithValues: catalog.plans.map { ($0.id, $0.name) })
        localizedFeatureNames = catalog.features.reduce(into: [:]) { names, feature in
            names[feature.id] = feature.names
        }
        planPrices = Dictionary(uniqueKeysWithValues: catalog.plans.map { ($0.id, $0.prices) })
        for plan in catalog.plans {
            for feature in catalog.features {
                upgrades[UsageReport.groupKey(feature: feature.id, planId: plan.id)] = Entitlements.upgradeTier(
                    catalog: catalog, from: plan, feature: feature, amount: 0)
            }
        }
        brandColor = catalog.brandColor
    }
}

/// Turns an outbox row (`email.<kind>`) into the e-mail it stands for, in the reader's language
/// (`locale` in the payload). Single-use tokens are sealed in the row and opened only here, at
/// send time. Mail that is not transactional carries an unsubscribe link (and `List-Unsubscribe`)
/// whose token is the sealed address.
public struct MessageRenderer: Sendable {
    let settings: MailSettings
    let box: SecretBox
    let templates: MailTemplates

    public init(settings: MailSettings, box: SecretBox, templates: MailTemplates) {
        self.settings = settings
        self.box = box
        self.templates = templates
    }

    public enum Failure: Error, Equatable {
        /// A kind no renderer knows, or a payload it cannot read: retrying will not help.
        case unreadable(String)
    }

    /// Mail that is sent whatever the reader's preferences: it answers what they did, or guards
    /// their account.
    public static let transactional: Set<String> = [
        "verify_email", "reset_password", "account_exists", "workspace_invitation", "two_factor_enabled",
        "two_factor_disabled", "change_email", "email_changed",
        "webhook_endpoint_disabled",
    ]

    /// Where each kind's action leads, under the link base.
    static let actionPaths: [String: String] = [
        "verify_email": "verify-email", "reset_password": "reset-password", "account_exists": "reset-password",
        "change_email": "confirm-email",
        "workspace_invitation": "join",
        "welcome": "", "usage_alert": "plan", "trial_ending": "billing", "trial_ended": "plan",
        "payment_failed": "billing", "subscription_suspended": "billing", "invoice_issued": "invoices",
        "invoice_overdue": "invoices", "invoice_paid": "invoices", "trial_started": "billing",
        "credits_low": "credits",
    ]

    public func render(_ message: OutboxMessage) throws -> MailMessage {
        guard message.kind.hasPrefix("email.") else { throw Failure.unreadable("no e-mail for kind \(message.kind)") }
        let kind = String(message.kind.dropFirst("email.".count))
        guard let payload = try? JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any]
        else { throw Failure.unreadable("payload of \(message.id) is not a JSON object") }
        var values = Self.values(payload)
        let language =
            (payload["locale"] as? String).flatMap { MailTemplates.locales.contains($0) ? $0 : nil }
            ?? settings.defaultLocale
        if values["days"] == nil, let end = (payload["data"] as? [String: Any])?["trialEnd"] as? String,
            let date = try? Date(end, strategy: .iso8601)
        {
            // Whole days left when the reminder was written, rounded up (2.5 days: "3 days").
            values["days"] = Int((date.timeIntervalSince(message.createdAt) / 86_400).rounded(.up))
        }
        values["product"] = settings.productName
        values["email"] = values["email"] ?? message.recipient
        var query: [String: String] = [:]
        if kind == "usage_alert", let feature = values["feature"] as? String, let plan = values["plan"] as? String {
            // The alert leads to the paywall of the plan that lifts the quota.
            query["feature"] = feature
            query["plan"] = settings.upgrades[UsageReport.groupKey(feature: feature, planId: plan)]
            query["workspace"] = payload["workspaceId"] as? String
        }
        if let price = trialPrice(values, language: language) {
            values["price"] = price
            values["monthly"] = (values["interval"] as? String) == BillingInterval.month.rawValue
        }
        if let feature = values["feature"] as? String {
            values["feature"] =
                settings.localizedFeatureNames[feature]?.text(in: language) ?? settings.featureNames[feature] ?? feature
        }
        for key in ["plan", "previousPlan"] {
            if let plan = values[key] as? String { values[key] = settings.planNames[plan] ?? plan }
        }
        values["limitReached"] = (payload["type"] as? String) == "usage.limit_reached"
        if let role = values["role"] as? String { values["role"] = role.lowercased() }
        if let sealed = payload["sealedToken"] as? String {
            guard let token = try? box.openToken(sealed) else {
                throw Failure.unreadable("\(message.id) carries no readable token")
            }
            query["token"] = token
        }
        if kind == "workspace_invitation" { query["workspace"] = payload["workspaceId"] as? String ?? "" }
        // Where the person was going when they signed up (a trial, an invitation).
        if kind == "verify_email", let next = payload["next"] as? String { query["next"] = next }
        let action = (kind == "usage_alert" && query["plan"] != nil ? "upgrade" : Self.actionPaths[kind]).map {
            link($0, query)
        }
        let unsubscribe =
            Self.transactional.contains(kind)
            ? nil
            : link(
                "v1/mail/unsubscribe", ["token": try box.sealToken(message.recipient.lowercased())],
                base: settings.apiBase)
        // Days as the reader's language writes them (21/05/2026 in French).
        for key in Self.dayKeys {
            if let day = values[key] as? String { values[key] = DayStamp.written(day, language: language) }
        }
        // An invoice's amount as the reader's language writes it ("58,80 €" in French).
        if let minor = JSONNumber.int64(values["totalMinor"]),
            let currency = (values["currency"] as? String).flatMap(Currency.init)
        {
            values["total"] = MoneyText.format(minor, currency, language: language)
        }
        guard
            let rendered = templates.render(
                kind: kind, locale: language, values: values, action: action, unsubscribe: unsubscribe,
                brandColor: settings.brandColor)
        else { throw Failure.unreadable("no e-mail for kind \(message.kind)") }
        var mail = MailMessage(
            from: settings.from, to: message.recipient, subject: rendered.subject, text: rendered.text,
            html: rendered.html, messageID: "\(message.id)@\(settings.messageIDDomain)", date: message.createdAt)
        mail.unsubscribe = unsubscribe
        return mail
    }

    /// What a subscription's plan costs per interval once its trial is over (seats included).
    func trialPrice(_ values: [String: Any], language: String) -> String? {
        guard let plan = values["plan"] as? String, let interval = values["interval"] as? String,
            let currency = (values["currency"] as? String).flatMap(Currency.init),
            let price = settings.planPrices[plan]?.first(where: {
                $0.currency == currency && $0.interval.rawValue == interval
            }),
            let amount = try? Pricing.amount(for: price, seats: values["seats"] as? Int)
        else { return nil }
        return MoneyText.format(amount.amountMinor, currency, language: language)
    }

    static let dayKeys = ["periodEnd", "trialEnd", "issuedAt", "dueAt", "expiresAt", "resetsAt", "paidAt"]

    /// The payload's values (an event's `data` beside the rest), dates as days.
    static func values(_ payload: [String: Any]) -> [String: Any] {
        var values = payload
        if let data = payload["data"] as? [String: Any] { values.merge(data) { _, inner in inner } }
        for key in dayKeys {
            if let text = values[key] as? String { values[key] = String(text.prefix(10)) }
        }
        if let end = values["periodEnd"] as? String { values["resetsAt"] = end }
        // A usage alert without a period's end is on a quota that never resets (a starter pack).
        if values["feature"] != nil, values["periodStart"] != nil { values["lifetime"] = values["resetsAt"] == nil }
        return values
    }

    private func link(_ path: String, _ query: [String: String], base: URL? = nil) -> URL {
        let base = base ?? settings.linkBase
        var components = URLComponents(
            url: path.isEmpty ? base : base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty {
            // Tokens are base64: '+' and '/' and '=' are escaped, so no reader takes '+' for a space.
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "+/=&")
            components.percentEncodedQuery = query.sorted { $0.key < $1.key }.map {
                "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
            }.joined(separator: "&")
        }
        return components.url!
    }
}
