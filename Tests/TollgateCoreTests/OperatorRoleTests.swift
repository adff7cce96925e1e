import Testing
import TollgateCore

@Suite struct OperatorRoleTests {
    /// The table: owner everything; admin all but operators; support reads, grants credits
    /// and extends trials; viewer reads.
    @Test func eachRoleMayDoWhatTheTableSays() {
        let allowed: [OperatorRole: Set<OperatorAction>] = [
            .owner: Set(OperatorAction.allCases),
            .admin: Set(OperatorAction.allCases).subtracting([.manageOperators]),
            .support: [.read, .grantCredits, .extendTrial],
            .viewer: [.read],
        ]
        for role in OperatorRole.allCases {
            for action in OperatorAction.allCases {
                #expect(role.may(action) == allowed[role]!.contains(action), "\(role) \(action)")
            }
        }
        let ladder: [OperatorRole] = [.viewer, .support, .admin, .owner]
        #expect(ladder.sorted() == ladder)
    }
}
