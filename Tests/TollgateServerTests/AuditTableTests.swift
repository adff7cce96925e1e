import Testing

@testable import TollgateServer

/// Every route that can change state has a line in `AuditedRoutes.table` (recorded, or a reason
/// it is not), and the table names no route the router does not serve.
@Suite struct AuditTableTests {
    @Test func everyChangingRouteHasAnAuditDecision() async throws {
        let changing = try await AuthorizationTableTests.servedRoutes().filter {
            !$0.hasPrefix("GET ") && !$0.hasPrefix("HEAD ")
        }
        let declared = Set(AuditedRoutes.table.keys)
        #expect(
            changing.subtracting(declared).isEmpty, "no audit decision for \(changing.subtracting(declared).sorted())")
        #expect(declared.subtracting(changing).isEmpty, "not served: \(declared.subtracting(changing).sorted())")
    }

    @Test func pathParametersAreReadFromTheTemplate() {
        #expect(
            AuditedRoutes.parameters(
                template: "/v1/workspaces/{id}/members/{userId}", path: "/v1/workspaces/ws_1/members/u%201")
                == ["id": "ws_1", "userId": "u 1"])
        #expect(AuditedRoutes.parameters(template: "/v1/customers/{id}", path: "/v1/customers").isEmpty)
    }
}
