import Foundation
import Hummingbird
import Logging
import TollgateCore
import TollgateMeter

/// `POST /v1/events`: up to 1,000 usage events in one request, each consumed exactly as
/// `POST /v1/consume` would (its own idempotency key, its own answer). The meter's batch entry
/// point decides them in order and commits them together: one durable write for many events.
struct EventRoutes: Sendable {
    let service: EntitlementService
    static let maximumEvents = 1000

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.post("events", use: ingest)
    }

    struct Batch: Decodable {
        let events: [UsageChangeRequest]
    }

    /// One event's answer: its outcome (allowed or refused), or the error that stopped it.
    enum Result: Encodable, Sendable {
        case outcome(UsageOutcome)
        case failed(ErrorBody)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .outcome(let outcome): try outcome.encode(to: encoder)
            case .failed(let error): try ErrorEnvelope(error: error).encode(to: encoder)
            }
        }
    }

    struct Response: Encodable {
        let accepted: Int
        let refused: Int
        let failed: Int
        let results: [Result]
    }

    @Sendable func ingest(_ request: Request, context: AuthenticatedContext) async throws -> Hummingbird.Response {
        try context.caller.require(.usageWrite)
        let batch = try await JSONBody.decode(Batch.self, from: request, context: context)
        guard (1...Self.maximumEvents).contains(batch.events.count) else {
            throw DomainError.invalidField("events", "send from 1 to \(Self.maximumEvents) events")
        }
        // Every event is checked before any is counted: a malformed one refuses the whole request.
        let events = try batch.events.enumerated().map { index, event -> ConsumeRequest in
            let path = "events[\(index)]"
            guard let key = event.idempotencyKey else { throw DomainError.missingField("\(path).idempotencyKey") }
            let amount = event.amount?.value ?? 1
            guard (1...EntitlementService.maximumAmount).contains(amount) else {
                throw DomainError.invalidField("\(path).amount", "must be a whole number from 1 to \(EntitlementService.maximumAmount)")
            }
            return ConsumeRequest(
                customerId: try Validate.identifier(event.customer, field: "\(path).customer"),
                featureId: try Validate.identifier(event.feature, field: "\(path).feature"), amount: amount,
                idempotencyKey: try Validate.identifier(key, field: "\(path).idempotencyKey"),
                workspaceId: try event.workspace.map { try Validate.identifier($0, field: "\(path).workspace") }
            )
        }
        let answers = await service.consume(batch: events)
        let results = answers.enumerated().map { index, answer -> Result in
            switch answer {
            case .success(let outcome):
                return .outcome(outcome)
            case .failure(let error as DomainError):
                return .failed(ErrorBody(code: error.code.rawValue, message: error.message, field: error.field.map { "events[\(index)].\($0)" }))
            case .failure(let error):
                context.logger.error("event \(index) failed", metadata: ["error": "\(String(reflecting: error))"])
                let unavailable = error is MeterError
                return .failed(ErrorBody(
                    code: (unavailable ? ErrorCode.unavailable : ErrorCode.internalError).rawValue,
                    message: unavailable ? "not recorded durably; retry with the same idempotency key" : "internal error", field: nil
                ))
            }
        }
        var accepted = 0, refused = 0, failed = 0
        for result in results {
            switch result {
            case .outcome(let outcome): if outcome.allowed { accepted += 1 } else { refused += 1 }
            case .failed: failed += 1
            }
        }
        return JSONResponse.make(status: .ok, body: Response(accepted: accepted, refused: refused, failed: failed, results: results))
    }
}
