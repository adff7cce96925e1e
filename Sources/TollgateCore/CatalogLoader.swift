import Foundation
import Yams

/// Reads a catalog from YAML text, validating everything and reporting every error with its key path.
public enum CatalogLoader {
    /// The largest quota a catalog may state, so that sums of quotas never overflow `Int64`.
    public static let maximumQuantity: Int64 = 1_000_000_000_000_000

    public static func load(yaml: String) throws(CatalogError) -> Catalog {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw CatalogError(issues: [CatalogIssue(path: "", message: "not valid YAML: \(error)")])
        }
        guard let root else {
            throw CatalogError(issues: [CatalogIssue(path: "", message: "the file is empty")])
        }
        var reader = CatalogReader()
        let catalog = reader.catalog(root)
        if let catalog, reader.issues.isEmpty { return catalog }
        throw CatalogError(issues: reader.issues)
    }

    public static func load(contentsOf path: String) throws(CatalogError) -> Catalog {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CatalogError(issues: [
                CatalogIssue(path: "", message: "cannot read \(path): \(error.localizedDescription)")
            ])
        }
        return try load(yaml: text)
    }
}
