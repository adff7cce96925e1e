import Foundation
import Yams

/// Turns a YAML tree into a `Catalog`, collecting every issue. The file's shape is documented in
/// `catalogs/README.md`.
struct CatalogReader {
    var yaml = YAMLReader()
    var issues: [CatalogIssue] { yaml.issues }

    /// snake_case: a lower-case letter, then lower-case letters, digits and `_`.
    static func isFeatureId(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Lower case: like a feature id, and `-` is allowed too.
    static func isPlanId(_ id: String) -> Bool {
        isFeatureId(id.replacingOccurrences(of: "-", with: "_"))
    }

    mutating func catalog(_ root: Node) -> Catalog? {
        let topKeys: Set<String> = [
            "product", "name", "defaultPlan", "features", "plans", "addOns", "creditTypes", "creditPacks",
            "creditLowBalance", "rateLimits", "branding",
        ]
        guard let top = yaml.mapping(root, "", allowed: topKeys) else { return nil }
        let product = requiredString(top, "product", "", root)
        let name = top["name"].flatMap { yaml.string($0, "name") } ?? product
        let creditTypes = top["creditTypes"].map { creditTypeList($0) } ?? []
        let features =
            top["features"].map { featureList($0, creditTypes: creditTypes) }
            ?? {
                yaml.report("features", "is required", root); return []
            }()
        let featuresById = Dictionary(features.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let plans =
            top["plans"].map { planList($0, features: featuresById, creditTypes: creditTypes) }
            ?? {
                yaml.report("plans", "is required", root); return []
            }()
        let planIds = Set(plans.map(\.id))
        let defaultPlan = requiredString(top, "defaultPlan", "", root)
        if let defaultPlan, !plans.isEmpty, !planIds.contains(defaultPlan) {
            yaml.report("defaultPlan", "names no plan of this catalog: \(defaultPlan)", top["defaultPlan"])
        }
        let addOns = top["addOns"].map { addOnList($0, features: featuresById, planIds: planIds) } ?? []
        let packs = top["creditPacks"].map { creditPackList($0, creditTypes: creditTypes) } ?? []
        let lowBalance = top["creditLowBalance"].map { creditLowBalance($0, creditTypes: creditTypes) } ?? [:]
        let rateLimits = top["rateLimits"].map { catalogRateLimits($0) } ?? CatalogRateLimits()
        let brandColor = top["branding"].flatMap { branding($0) }
        guard let product, let defaultPlan, issues.isEmpty else { return nil }
        var catalog = Catalog(
            product: product, name: name ?? product, defaultPlanId: defaultPlan, features: features,
            plans: plans.sorted { $0.order < $1.order }, addOns: addOns, creditTypes: creditTypes, creditPacks: packs
        )
        catalog.creditLowBalance = lowBalance
        catalog.rateLimits = rateLimits
        catalog.brandColor = brandColor
        return catalog
    }

    /// `branding: { color: "#0f766e" }`: the colour mail is drawn in.
    mutating func branding(_ node: Node) -> String? {
        guard let fields = yaml.mapping(node, "branding", allowed: ["color"]),
            let value = fields["color"].flatMap({ yaml.string($0, "branding.color") })
        else { return nil }
        let digits = value.dropFirst()
        guard value.hasPrefix("#"), digits.count == 6, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
            yaml.report("branding.color", "must be a colour as #rrggbb, such as #0f766e", fields["color"])
            return nil
        }
        return value.lowercased()
    }

    /// `rateLimits: { secretKey: { requestsPerMinute: 6000 }, ip: { requestsPerMinute: 120 } }`.
    mutating func catalogRateLimits(_ node: Node) -> CatalogRateLimits {
        guard let fields = yaml.mapping(node, "rateLimits", allowed: ["secretKey", "ip"]) else {
            return CatalogRateLimits()
        }
        return CatalogRateLimits(
            secretKey: fields["secretKey"].flatMap { rateLimit($0, "rateLimits.secretKey") },
            ip: fields["ip"].flatMap { rateLimit($0, "rateLimits.ip") })
    }

    /// `{ requestsPerMinute: 600 }`.
    mutating func rateLimit(_ node: Node, _ path: String) -> RateLimit? {
        guard let fields = yaml.mapping(node, path, allowed: ["requestsPerMinute"]) else { return nil }
        guard let value = fields["requestsPerMinute"] else {
            yaml.report("\(path).requestsPerMinute", "is required", node)
            return nil
        }
        return yaml.integer(value, "\(path).requestsPerMinute", in: 1...10_000_000).map {
            RateLimit(requestsPerMinute: $0)
        }
    }

    /// `creditLowBalance: { credits: 20 }`: per credit type, the balance that raises `credits.low`.
    mutating func creditLowBalance(_ node: Node, creditTypes: [String]) -> [String: Int64] {
        guard let pairs = yaml.mapping(node, "creditLowBalance") else { return [:] }
        var thresholds: [String: Int64] = [:]
        for (type, value) in pairs {
            let path = "creditLowBalance.\(type)"
            if !creditTypes.contains(type) { yaml.report(path, "names no credit type of this catalog: \(type)", value) }
            if let amount = yaml.integer(value, path, in: 1...CatalogLoader.maximumQuantity) {
                thresholds[type] = amount
            }
        }
        return thresholds
    }

    // MARK: - Features

    mutating func creditTypeList(_ node: Node) -> [String] {
        guard let items = yaml.sequence(node, "creditTypes") else { return [] }
        return items.enumerated().compactMap { index, item in
            let path = YAMLReader.index("creditTypes", index)
            guard let id = yaml.string(item, path) else { return nil }
            if !Self.isFeatureId(id) {
                yaml.report(path, "credit type ids are snake_case", item)
            }
            return id
        }
    }

    mutating func featureList(_ node: Node, creditTypes: [String]) -> [FeatureDefinition] {
        guard let pairs = yaml.mapping(node, "features") else { return [] }
        if pairs.isEmpty { yaml.report("features", "must define at least one feature", node) }
        return pairs.compactMap { id, value in
            let path = "features.\(id)"
            if !Self.isFeatureId(id) {
                yaml.report(path, "feature ids are snake_case (a-z, 0-9, _), starting with a letter", value)
            }
            guard let fields = yaml.mapping(value, path, allowed: ["type", "name", "unit", "creditCost", "alerts"])
            else {
                return nil
            }
            let type = fields["type"].flatMap { yaml.oneOf($0, "\(path).type", FeatureType.self) }
            if fields["type"] == nil { yaml.report("\(path).type", "is required", value) }
            let names = fields["name"].flatMap { yaml.localizedText($0, "\(path).name") }
            let name = names?.english ?? id
            let unit = fields["unit"].flatMap { yaml.string($0, "\(path).unit") }
            let cost = fields["creditCost"].flatMap { creditCost($0, "\(path).creditCost", creditTypes: creditTypes) }
            if cost != nil, let type, type != .metered {
                yaml.report("\(path).creditCost", "only metered features can cost credits", value)
            }
            guard let type else { return nil }
            var feature = FeatureDefinition(id: id, name: name, type: type, unit: unit, creditCost: cost)
            if let names, names.texts.count > 1 { feature.names = names }
            if let alerts = fields["alerts"] {
                if type != .metered { yaml.report("\(path).alerts", "only metered features have quota alerts", value) }
                feature.alertPercents = alertPercents(alerts, "\(path).alerts")
            } else if type == .metered {
                feature.alertPercents = UsageThresholds.defaultPercents
            }
            return feature
        }
    }

    /// A list of distinct percentages in 1...100, e.g. `[50, 80, 100]`; `[]` turns alerts off.
    mutating func alertPercents(_ node: Node, _ path: String) -> [Int] {
        guard let items = yaml.sequence(node, path) else { return [] }
        let percents = items.enumerated().compactMap { index, item in
            yaml.integer(item, YAMLReader.index(path, index), in: 1...100).map(Int.init)
        }
        if Set(percents).count != percents.count { yaml.report(path, "lists a percentage twice", node) }
        return Array(Set(percents)).sorted()
    }

    mutating func creditCost(_ node: Node, _ path: String, creditTypes: [String]) -> CreditCost? {
        guard let fields = yaml.mapping(node, path, allowed: ["type", "amount"]) else { return nil }
        let type = fields["type"].flatMap { yaml.string($0, "\(path).type") } ?? creditTypes.first
        if let type, !creditTypes.contains(type) {
            yaml.report("\(path).type", "names no credit type of this catalog: \(type)", node)
        }
        let amount = requiredInteger(fields, "amount", path, node, in: 1...CatalogLoader.maximumQuantity)
        guard let type, let amount else { return nil }
        return CreditCost(creditType: type, amount: amount)
    }

    // MARK: - Plans

    mutating func planList(_ node: Node, features: [String: FeatureDefinition], creditTypes: [String]) -> [Plan] {
        guard let items = yaml.sequence(node, "plans") else { return [] }
        if items.isEmpty { yaml.report("plans", "must define at least one plan", node) }
        var plans: [Plan] = []
        var seenIds: [String: String] = [:]
        var seenOrders: [Int: String] = [:]
        for (index, item) in items.enumerated() {
            let path = YAMLReader.index("plans", index)
            guard let plan = plan(item, path, features: features, creditTypes: creditTypes) else { continue }
            if let other = seenIds[plan.id] {
                yaml.report("\(path).id", "plan id \(plan.id) is already used by \(other)", item)
            }
            if let other = seenOrders[plan.order] {
                yaml.report("\(path).order", "order \(plan.order) is already used by plan \(other)", item)
            }
            seenIds[plan.id] = path
            seenOrders[plan.order] = plan.id
            plans.append(plan)
        }
        let highlighted = plans.filter(\.highlighted)
        if highlighted.count > 1 {
            yaml.report(
                "plans", "at most one plan is highlighted (\(highlighted.map(\.id).joined(separator: ", ")) are)", node)
        }
        return plans
    }

    mutating func plan(
        _ node: Node, _ path: String, features: [String: FeatureDefinition], creditTypes: [String]
    ) -> Plan? {
        let keys: Set<String> = [
            "id", "name", "order", "prices", "trial", "features", "creditGrants", "workspacePools", "creditOverdraft",
            "rateLimits", "tagline", "highlight",
        ]
        guard let fields = yaml.mapping(node, path, allowed: keys) else { return nil }
        let id = requiredString(fields, "id", path, node)
        if let id, !Self.isPlanId(id) {
            yaml.report(
                "\(path).id", "plan ids are lower case (a-z, 0-9, _ and -), starting with a letter", fields["id"])
        }
        let name = fields["name"].flatMap { yaml.string($0, "\(path).name") } ?? id
        let order = requiredInteger(fields, "order", path, node, in: 0...1_000_000)
        let prices = fields["prices"].map { priceList($0, "\(path).prices") } ?? []
        let trial = fields["trial"].flatMap { self.trial($0, "\(path).trial") }
        let grants = fields["features"].map { grantMap($0, "\(path).features", features: features) } ?? [:]
        let creditGrants =
            fields["creditGrants"].map { creditGrantList($0, "\(path).creditGrants", creditTypes: creditTypes) } ?? []
        let pools = fields["workspacePools"].flatMap { yaml.bool($0, "\(path).workspacePools") } ?? false
        let overdraft =
            fields["creditOverdraft"].flatMap {
                yaml.integer($0, "\(path).creditOverdraft", in: 0...CatalogLoader.maximumQuantity)
            } ?? 0
        let rateLimit = fields["rateLimits"].flatMap { self.rateLimit($0, "\(path).rateLimits") }
        if trial != nil, prices.isEmpty {
            yaml.report("\(path).trial", "a free plan has nothing to try", fields["trial"])
        }
        guard let id, let order else { return nil }
        var plan = Plan(
            id: id, name: name ?? id, order: Int(order), prices: prices, trial: trial, features: grants,
            creditGrants: creditGrants, workspacePools: pools, creditOverdraft: overdraft, rateLimit: rateLimit
        )
        plan.tagline = fields["tagline"].flatMap { yaml.localizedText($0, "\(path).tagline") }
        plan.highlighted = fields["highlight"].flatMap { yaml.bool($0, "\(path).highlight") } ?? false
        return plan
    }

    mutating func trial(_ node: Node, _ path: String) -> Trial? {
        guard let fields = yaml.mapping(node, path, allowed: ["days", "requiresPaymentMethod", "reminderDays"]) else {
            return nil
        }
        let days = requiredInteger(fields, "days", path, node, in: 1...365)
        let card = fields["requiresPaymentMethod"].flatMap { yaml.bool($0, "\(path).requiresPaymentMethod") } ?? false
        let reminder = fields["reminderDays"].flatMap { yaml.integer($0, "\(path).reminderDays", in: 0...365) }
        return days.map { days in
            var trial = Trial(days: Int(days), requiresPaymentMethod: card)
            trial.reminderDays = reminder.map(Int.init) ?? min(3, Int(days) - 1)
            return trial
        }
    }

    mutating func grantMap(_ node: Node, _ path: String, features: [String: FeatureDefinition]) -> [String:
        FeatureGrant]
    {
        guard let pairs = yaml.mapping(node, path) else { return [:] }
        var grants: [String: FeatureGrant] = [:]
        for (featureId, value) in pairs {
            let grantPath = "\(path).\(featureId)"
            guard let feature = features[featureId] else {
                yaml.report(grantPath, "unknown feature \(featureId) (define it under features)", value)
                continue
            }
            switch feature.type {
            case .boolean:
                if let on = yaml.bool(value, grantPath) { grants[featureId] = .boolean(on) }
            case .limit:
                if let limit = yaml.limit(value, grantPath) { grants[featureId] = .limit(limit) }
            case .metered:
                if let grant = meteredGrant(value, grantPath) { grants[featureId] = grant }
            }
        }
        return grants
    }

    /// `100` (per month), `unlimited`, or `{limit, period, overage}`.
    mutating func meteredGrant(_ node: Node, _ path: String) -> FeatureGrant? {
        if case .scalar = node {
            return yaml.limit(node, path).map { .metered($0, .monthly, overage: nil) }
        }
        guard let fields = yaml.mapping(node, path, allowed: ["limit", "period", "overage"]) else { return nil }
        let limit = fields["limit"].flatMap { yaml.limit($0, "\(path).limit") }
        if fields["limit"] == nil { yaml.report("\(path).limit", "is required", node) }
        let period = fields["period"].map { yaml.oneOf($0, "\(path).period", ResetPeriod.self) } ?? .monthly
        let overage = fields["overage"].flatMap { overagePrice($0, "\(path).overage") }
        if overage != nil, limit == .unlimited {
            yaml.report("\(path).overage", "an unlimited quota has no overage", node)
        }
        guard let limit, let period else { return nil }
        return .metered(limit, period, overage: overage)
    }

    mutating func overagePrice(_ node: Node, _ path: String) -> OveragePrice? {
        guard let fields = yaml.mapping(node, path, allowed: ["per", "unitAmounts"]) else { return nil }
        let per = fields["per"].map { yaml.integer($0, "\(path).per", in: 1...1_000_000_000) } ?? 1
        var amounts: [Currency: Int64] = [:]
        if let amountsNode = fields["unitAmounts"], let pairs = yaml.mapping(amountsNode, "\(path).unitAmounts") {
            for (code, value) in pairs {
                let amountPath = "\(path).unitAmounts.\(code)"
                guard let currency = Currency(code) else {
                    yaml.report(amountPath, "not an ISO 4217 currency code", value)
                    continue
                }
                if let amount = yaml.integer(value, amountPath, in: 0...CatalogLoader.maximumQuantity) {
                    amounts[currency] = amount
                }
            }
            if pairs.isEmpty { yaml.report("\(path).unitAmounts", "needs at least one currency", amountsNode) }
        } else if fields["unitAmounts"] == nil {
            yaml.report("\(path).unitAmounts", "is required", node)
        }
        guard let per, !amounts.isEmpty else { return nil }
        return OveragePrice(per: per, unitAmounts: amounts)
    }

    mutating func creditGrantList(_ node: Node, _ path: String, creditTypes: [String]) -> [CreditGrantRule] {
        guard let items = yaml.sequence(node, path) else { return [] }
        return items.enumerated().compactMap { index, item in
            let itemPath = YAMLReader.index(path, index)
            guard let fields = yaml.mapping(item, itemPath, allowed: ["type", "amount", "period", "rollover"]) else {
                return nil
            }
            let type = fields["type"].flatMap { yaml.string($0, "\(itemPath).type") } ?? creditTypes.first
            if type == nil { yaml.report("\(itemPath).type", "is required (the catalog defines no creditTypes)", item) }
            if let type, !creditTypes.contains(type) {
                yaml.report("\(itemPath).type", "names no credit type of this catalog: \(type)", item)
            }
            let amount = requiredInteger(fields, "amount", itemPath, item, in: 1...CatalogLoader.maximumQuantity)
            let period = fields["period"].map { yaml.oneOf($0, "\(itemPath).period", ResetPeriod.self) } ?? .monthly
            let rollover = fields["rollover"].flatMap { yaml.bool($0, "\(itemPath).rollover") } ?? false
            guard let type, let amount, let period else { return nil }
            return CreditGrantRule(creditType: type, amount: amount, period: period, rollover: rollover)
        }
    }

    // MARK: - Helpers

    mutating func requiredString(
        _ fields: [(key: String, value: Node)], _ key: String, _ path: String, _ owner: Node
    ) -> String? {
        let fullPath = YAMLReader.join(path, key)
        guard let node = fields[key] else {
            yaml.report(fullPath, "is required", owner)
            return nil
        }
        return yaml.string(node, fullPath)
    }

    mutating func requiredInteger(
        _ fields: [(key: String, value: Node)], _ key: String, _ path: String, _ owner: Node,
        in range: ClosedRange<Int64>
    ) -> Int64? {
        let fullPath = YAMLReader.join(path, key)
        guard let node = fields[key] else {
            yaml.report(fullPath, "is required", owner)
            return nil
        }
        return yaml.integer(node, fullPath, in: range)
    }
}
