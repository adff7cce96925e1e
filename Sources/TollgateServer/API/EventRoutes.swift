import Foundation
import Hummingbird
import Logging
import TollgateCore
import TollgateIdentity
import TollgateMeter

/// `POST /v1/events`: up to 1,000 usage events in one request, each consumed exactly as
/// `POST /v1/consume` would (its own idempotency key, its own answer). The meter's batch entry
/// point decides them in order and commits them together: one durable write for many events.
struct EventRoutes: Sendable {
    let service: Meter
    static let maximumEvents = 1000

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.usageWrite)
            .post("events", use: ingest)
    }

    struct Batch: Decodable {
        let events: [UsageChangeRequest]
    }

    @Sendable func ingest(_ request: Request, context: AuthenticatedContext) async throws -> RawJSON {
        let batch = try await request.decode(as: Batch.self, context: context)
        guard (1...Self.maximumEvents).contains(batch.events.count) else {
            throw DomainError.invalidField("events", "send from 1 to \(Self.maximumEvents) events")
        }
        // Every event is checked before any is counted: a malformed one refuses the whole request.
        let events = try batch.events.enumerated().map { index, event -> ConsumeRequest in
            let path = "events[\(index)]"
            guard let key = event.idempotencyKey else { throw DomainError.missingField("\(path).idempotencyKey") }
            let amount = event.amount?.value ?? 1
            guard (1...Meter.maximumAmount).contains(amount) else {
                throw DomainError.invalidField(
                    "\(path).amount", "must be a whole number from 1 to \(Meter.maximumAmount)")
            }
            return ConsumeRequest(
                customerId: try Validate.identifier(event.customer, field: "\(path).customer"),
                featureId: try Validate.identifier(event.feature, field: "\(path).feature"), amount: amount,
                idempotencyKey: try Validate.identifier(key, field: "\(path).idempotencyKey"),
                workspaceId: try Validate.optionalIdentifier(event.workspace, field: "\(path).workspace")
            )
        }
        let answers = await service.consume(batch: events)
        // A commit that failed for the server's own reason (a full disk, a lost database) fails
        // the request: a client that checks the status retries the batch with the same keys, and
        // whatever did land replays its answer. Per-event causes stay per event.
        let serverFailures = answers.filter { if case .failure(let error) = $0 { error is MeterError } else { false } }
        if !serverFailures.isEmpty {
            throw DomainError(
                .unavailable,
                "\(serverFailures.count) of \(answers.count) events could not be recorded durably; "
                    + "retry the batch with the same idempotency keys", retryAfterSeconds: 1)
        }
        // Written directly, in the encoder's sorted-key form: a response holds up to 1,000 answers.
        var counts = (accepted: 0, refused: 0, failed: 0)
        var results: [String] = []
        results.reserveCapacity(answers.count)
        for (index, answer) in answers.enumerated() {
            switch answer {
            case .success(let outcome):
                if outcome.allowed { counts.accepted += 1 } else { counts.refused += 1 }
                results.append(outcome.storedJSON)
            case .failure(let error):
                counts.failed += 1
                results.append(
                    String(
                        decoding: try TollgateJSON.encoder.encode(
                            ErrorEnvelope(error: Self.errorBody(error, index: index, logger: context.logger))),
                        as: UTF8.self))
            }
        }
        let json =
            "{\"accepted\":\(counts.accepted),\"failed\":\(counts.failed),\"refused\":\(counts.refused)"
            + ",\"results\":[\(results.joined(separator: ","))]}"
        return RawJSON(json)
    }

    /// What one event's failure tells the client: a domain error names the event's field; any
    /// other error is logged and reported without internals.
    private static func errorBody(_ error: any Error, index: Int, logger: Logger) -> ErrorBody {
        if let error = error as? DomainError {
            return ErrorBody(
                code: error.code.rawValue, message: error.message, field: error.field.map { "events[\(index)].\($0)" })
        }
        logger.error("event \(index) failed", metadata: ["error": "\(String(reflecting: error))"])
        return ErrorBody(code: ErrorCode.internalError.rawValue, message: "internal error", field: nil)
    }
}
