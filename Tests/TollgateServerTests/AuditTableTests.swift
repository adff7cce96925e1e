import Foundation
import TestSupport
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

/// Each audited route's action is written by a service, in the change's transaction — except the
/// few the table's `byDoor` marks, whose change happens at Stripe (the door records what it asked).
@Suite struct AuditWrittenByServicesTests {
    /// Action names written as string literals by the services (every library but the doors).
    static func actionsInServices() throws -> Set<String> {
        let root = Repository.path("Sources")
        let doors = [
            "TollgateServer/API/", "TollgateServer/Console/", "TollgateServer/Portal/", "TollgateServer/HTTP/",
        ]
        let files = try #require(FileManager.default.enumerator(atPath: root)?.allObjects as? [String])
        let pattern = try NSRegularExpression(pattern: #""([a-z_]+\.[a-z_]+)""#)
        var found = Set<String>()
        for file in files where file.hasSuffix(".swift") && !doors.contains(where: file.hasPrefix) {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text) { found.insert(String(text[range])) }
            }
        }
        return found
    }

    @Test func everyRecordedActionIsWrittenByAServiceOrSaysItIsTheDoors() throws {
        let written = try Self.actionsInServices()
        let routes = AuditedRoutes.table.compactMap { route, audited in audited.map { (route, $0) } }
        let missing = routes.filter { !$0.1.byDoor && !written.contains($0.1.action) }.map { "\($0.0): \($0.1.action)" }
        #expect(missing.isEmpty, "no service writes: \(missing.sorted())")
        let needless = routes.filter { $0.1.byDoor && written.contains($0.1.action) }.map(\.0)
        #expect(needless.isEmpty, "a service writes these, the table says the door does: \(needless.sorted())")
    }
}
