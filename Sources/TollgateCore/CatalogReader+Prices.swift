import Foundation
import Yams

/// The catalog's prices, add-ons and credit packs, read and checked.
extension CatalogReader {
    mutating func priceList(_ node: Node, _ path: String) -> [Price] {
        guard let items = yaml.sequence(node, path) else { return [] }
        var prices: [Price] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let itemPath = YAMLReader.index(path, index)
            guard let price = price(item, itemPath) else { continue }
            if !seen.insert("\(price.currency)/\(price.interval)").inserted {
                yaml.report(itemPath, "a \(price.interval)ly \(price.currency) price is already defined", item)
            }
            prices.append(price)
        }
        return prices
    }

    mutating func price(_ node: Node, _ path: String) -> Price? {
        let keys: Set<String> = [
            "currency", "interval", "amount", "perSeatAmount", "minimumSeats", "maximumSeats", "stripePriceId",
        ]
        guard let fields = yaml.mapping(node, path, allowed: keys) else { return nil }
        var currency: Currency?
        if let currencyNode = fields["currency"] {
            if let code = yaml.string(currencyNode, "\(path).currency") {
                currency = Currency(code)
                if currency == nil {
                    yaml.report("\(path).currency", "not an ISO 4217 currency code: \(code)", currencyNode)
                }
            }
        } else {
            yaml.report("\(path).currency", "is required: a price without a currency means nothing", node)
        }
        let interval = fields["interval"].map { yaml.oneOf($0, "\(path).interval", BillingInterval.self) } ?? .month
        let amount = requiredInteger(fields, "amount", path, node, in: 0...CatalogLoader.maximumQuantity)
        let perSeat = fields["perSeatAmount"].flatMap {
            yaml.integer($0, "\(path).perSeatAmount", in: 0...CatalogLoader.maximumQuantity)
        }
        let minSeats = fields["minimumSeats"].flatMap { yaml.integer($0, "\(path).minimumSeats", in: 1...1_000_000) }
        let maxSeats = fields["maximumSeats"].flatMap { yaml.integer($0, "\(path).maximumSeats", in: 1...1_000_000) }
        if let minSeats, let maxSeats, maxSeats < minSeats {
            yaml.report("\(path).maximumSeats", "is below minimumSeats (\(minSeats))", node)
        }
        if perSeat == nil, minSeats != nil || maxSeats != nil {
            yaml.report("\(path).minimumSeats", "seat bounds need a perSeatAmount", node)
        }
        let stripePriceId = fields["stripePriceId"].flatMap { yaml.string($0, "\(path).stripePriceId") }
        guard let currency, let interval, let amount else { return nil }
        return Price(
            currency: currency, interval: interval, amount: amount, perSeatAmount: perSeat,
            minimumSeats: minSeats.map { Int($0) }, maximumSeats: maxSeats.map { Int($0) }, stripePriceId: stripePriceId
        )
    }

    mutating func addOnList(_ node: Node, features: [String: FeatureDefinition], planIds: Set<String>)
        -> [AddOn]
    {
        guard let items = yaml.sequence(node, "addOns") else { return [] }
        return items.enumerated().compactMap { index, item in
            let path = YAMLReader.index("addOns", index)
            guard let fields = yaml.mapping(item, path, allowed: ["id", "name", "prices", "features", "plans"]) else {
                return nil
            }
            let id = requiredString(fields, "id", path, item)
            let name = fields["name"].flatMap { yaml.string($0, "\(path).name") } ?? id
            let prices = fields["prices"].map { priceList($0, "\(path).prices") } ?? []
            var increments: [String: Int64] = [:]
            if let featuresNode = fields["features"], let pairs = yaml.mapping(featuresNode, "\(path).features") {
                for (featureId, value) in pairs {
                    let featurePath = "\(path).features.\(featureId)"
                    guard let feature = features[featureId] else {
                        yaml.report(featurePath, "unknown feature \(featureId)", value)
                        continue
                    }
                    if feature.type == .boolean {
                        yaml.report(
                            featurePath, "an add-on adds to a limit or metered feature, not a boolean one", value)
                        continue
                    }
                    if let amount = yaml.integer(value, featurePath, in: 1...CatalogLoader.maximumQuantity) {
                        increments[featureId] = amount
                    }
                }
            } else if fields["features"] == nil {
                yaml.report("\(path).features", "is required", item)
            }
            var plans: [String] = []
            if let plansNode = fields["plans"], let list = yaml.sequence(plansNode, "\(path).plans") {
                for (planIndex, planNode) in list.enumerated() {
                    let planPath = YAMLReader.index("\(path).plans", planIndex)
                    guard let planId = yaml.string(planNode, planPath) else { continue }
                    if !planIds.contains(planId) {
                        yaml.report(planPath, "names no plan of this catalog: \(planId)", planNode)
                    }
                    plans.append(planId)
                }
            }
            guard let id else { return nil }
            return AddOn(id: id, name: name ?? id, prices: prices, features: increments, plans: plans)
        }
    }

    mutating func creditPackList(_ node: Node, creditTypes: [String]) -> [CreditPack] {
        guard let items = yaml.sequence(node, "creditPacks") else { return [] }
        return items.enumerated().compactMap { index, item in
            let path = YAMLReader.index("creditPacks", index)
            guard let fields = yaml.mapping(item, path, allowed: ["id", "name", "type", "amount", "prices"]) else {
                return nil
            }
            let id = requiredString(fields, "id", path, item)
            let name = fields["name"].flatMap { yaml.string($0, "\(path).name") } ?? id
            let type = fields["type"].flatMap { yaml.string($0, "\(path).type") } ?? creditTypes.first
            if let type, !creditTypes.contains(type) {
                yaml.report("\(path).type", "names no credit type of this catalog: \(type)", item)
            } else if type == nil {
                yaml.report("\(path).type", "is required (the catalog defines no creditTypes)", item)
            }
            let amount = requiredInteger(fields, "amount", path, item, in: 1...CatalogLoader.maximumQuantity)
            let prices = fields["prices"].map { priceList($0, "\(path).prices") } ?? []
            if prices.isEmpty { yaml.report("\(path).prices", "a pack needs at least one price", item) }
            guard let id, let type, let amount else { return nil }
            return CreditPack(id: id, name: name ?? id, creditType: type, amount: amount, prices: prices)
        }
    }
}
