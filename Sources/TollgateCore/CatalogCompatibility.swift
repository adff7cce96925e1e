/// What the stored data refers to in the catalog: the plans customers and subscriptions are on
/// (or moving to), the add-ons bought, the features counted.
public struct CatalogReferences: Sendable, Equatable {
    public var plans: Set<String>
    public var addOns: Set<String>
    public var features: Set<String>

    public init(plans: Set<String> = [], addOns: Set<String> = [], features: Set<String> = []) {
        self.plans = plans
        self.addOns = addOns
        self.features = features
    }
}

/// Whether a catalog can serve data written under another: every plan, add-on and feature the
/// data refers to must still exist, or the meaning of the data changes silently (a customer on
/// `pro` would be served the default plan's entitlements).
public enum CatalogCompatibility {
    /// One issue per missing id, sorted; empty when the catalog covers everything.
    public static func issues(_ references: CatalogReferences, catalog: Catalog) -> [CatalogIssue] {
        let plans = Set(catalog.plans.map(\.id))
        let addOns = Set(catalog.addOns.map(\.id))
        let features = Set(catalog.features.map(\.id))
        let missing =
            references.plans.subtracting(plans).sorted().map {
                ("plans", "plan \($0) is in use and not in this catalog")
            }
            + references.addOns.subtracting(addOns).sorted().map {
                ("addOns", "add-on \($0) is bought and not in this catalog")
            }
            + references.features.subtracting(features).sorted().map {
                ("features", "feature \($0) has usage and is not in this catalog")
            }
        return missing.map { CatalogIssue(path: $0.0, message: $0.1) }
    }
}

/// The catalog a server was started with lacks what its data refers to.
public struct CatalogMismatchError: Error, Sendable, CustomStringConvertible {
    public let issues: [CatalogIssue]

    public init(issues: [CatalogIssue]) { self.issues = issues }

    public var description: String {
        "this catalog lacks what the stored data uses (\(issues.count)):\n"
            + issues.map { "  - \($0.message)" }.joined(separator: "\n")
            + "\nStart with the catalog the data was written under, or move those customers first "
            + "(tollgate customers set-plan)."
    }
}
