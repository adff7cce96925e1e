import SQLKit
import TollgateStorage

extension Migrations {
    /// The console's own log of actions, replaced by the audit trail (migration 33) and never
    /// read or written since.
    static let version36: [Migration] = [
        Migration(
            version: 36, name: "drop operator_actions",
            statements: ["DROP TABLE operator_actions"])
    ]
}
