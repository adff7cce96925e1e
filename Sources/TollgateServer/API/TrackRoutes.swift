import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity

/// `POST /v1/track`: product events, through the one service that records them.
struct TrackRoutes: Sendable {
    let events: ProductEvents

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.usageWrite).post("track", use: track)
    }

    struct Batch: Decodable {
        let events: [ProductEvents.Event]
    }

    struct Answer: ResponseEncodable {
        let recorded: Int
        let duplicates: Int
    }

    @Sendable func track(_ request: Request, context: AuthenticatedContext) async throws -> Answer {
        let batch = try await request.decode(as: Batch.self, context: context)
        let (recorded, duplicates) = try await events.track(batch.events)
        return Answer(recorded: recorded, duplicates: duplicates)
    }
}
