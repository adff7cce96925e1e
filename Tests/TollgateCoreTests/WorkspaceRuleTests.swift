import Foundation
import TestSupport
import Testing

@testable import TollgateCore

@Suite struct WorkspaceRuleTests {
    /// The workspace permission matrix, row by row: which roles may do what.
    @Test func thePermissionMatrixOfTheSeed() {
        let expected: [WorkspaceAction: Set<WorkspaceRole>] = [
            .list: [.owner, .admin, .member, .viewer],
            .leave: [.owner, .admin, .member, .viewer],
            .useFeatures: [.owner, .admin, .member],
            .view: [.owner, .admin],
            .listMembers: [.owner, .admin],
            .invite: [.owner, .admin],
            .removeMember: [.owner, .admin],
            .rename: [.owner, .admin],
            .viewQuota: [.owner, .admin],
            .changeRole: [.owner],
            .delete: [.owner],
            .transferOwnership: [.owner],
            .manageBilling: [.owner],
            .viewAuditLog: [.owner],
        ]
        #expect(Set(expected.keys) == Set(WorkspaceAction.allCases))
        for action in WorkspaceAction.allCases {
            for role in WorkspaceRole.allCases {
                #expect(role.may(action) == expected[action]!.contains(role), "\(role) \(action)")
            }
        }
    }

    @Test func seatsFollowThePlanAddOnsAndSeatsBought() throws {
        let catalog = try CatalogLoader.load(contentsOf: Repository.path("catalogs/memento.yaml"))
        func limit(_ plan: String, _ addOns: [String: Int] = [:], seats: Int? = nil) -> Int? {
            Seats.limit(catalog: catalog, plan: catalog.plan(plan)!, addOnQuantities: addOns, purchasedSeats: seats)
        }
        #expect(limit("basic") == 1 && limit("pro") == 1)
        #expect(limit("business") == 11)
        #expect(limit("business", ["collaborators_5": 1]) == 16)
        #expect(limit("business", ["collaborators_5": 1, "collaborators_10": 2]) == 36)
        #expect(limit("pro", ["collaborators_5": 1]) == 1, "add-ons are only sold with business and enterprise")
        #expect(
            limit("enterprise") == 20 && limit("enterprise", seats: 12) == 20 && limit("enterprise", seats: 45) == 45)
    }

    /// An invitation or a removal never reaches one's own rank (the OWNER excepted).
    @Test func grantsAndRemovalsStayBelowOnesOwnPower() {
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.owner.mayGrant($0) } == [.admin, .member, .viewer])
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.admin.mayGrant($0) } == [.member, .viewer])
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.member.mayGrant($0) } == [])
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.owner.mayRemove($0) } == [.admin, .member, .viewer])
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.admin.mayRemove($0) } == [.member, .viewer])
        #expect(WorkspaceRole.allCases.filter { WorkspaceRole.viewer.mayRemove($0) } == [])
    }
}
