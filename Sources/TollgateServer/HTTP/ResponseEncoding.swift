import Foundation
import HTTPTypes
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity
import TollgateMeter

/// How every JSON answer is written: sorted keys (stable bytes, which stored idempotent answers
/// and tests rely on), ISO 8601 dates, slashes unescaped. Each request context answers with it as
/// its `responseEncoder`, so handlers return `ResponseEncodable` values and Hummingbird encodes.
enum TollgateJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A usage answer (check, consume, release), written as `UsageOutcome.storedJSON` — the same
/// bytes the encoder would write, which a test holds — instead of through `JSONEncoder`: the
/// meter's routes answer thousands a second and `tollgate bench` shows the encoder's cost there
/// (BENCHMARKS.md, HTTP rows).
struct UsageAnswer: ResponseGenerator {
    let outcome: UsageOutcome

    init(_ outcome: UsageOutcome) { self.outcome = outcome }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        RawJSON(outcome.storedJSON).response(status: .ok)
    }
}

/// A text answer that is not JSON (a page, the document, a CSV download), with its caching said
/// by the caller: public for what is the same for everyone, never for what is someone's.
enum TextAnswer {
    static func response(_ body: String, type: String, cacheControl: String? = nil, attachment: String? = nil)
        -> Response
    {
        var headers = HTTPFields()
        headers[.contentType] = type
        if let cacheControl { headers[.cacheControl] = cacheControl }
        if let attachment { headers[.contentDisposition] = "attachment; filename=\"\(attachment)\"" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A PDF document, shown inline, saved as `filename`.
    static func pdf(_ bytes: [UInt8], filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/pdf"
        headers[.contentDisposition] = "inline; filename=\"\(filename)\""
        // A customer's document: kept by no cache, the browser's included.
        headers[.cacheControl] = "private, no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A CSV download named `filename`.
    static func csv(_ csv: CSVWriter, filename: String) -> Response {
        response(csv.text, type: "text/csv; charset=utf-8", attachment: filename)
    }
}

/// JSON assembled by hand from parts that are already JSON (stored answers): only where the
/// parts exist as bytes already, so decoding them to encode them again would be waste.
struct RawJSON: ResponseGenerator {
    let json: String

    init(_ json: String) { self.json = json }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response(status: .ok)
    }

    func response(status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

// The API's answers, encoded by the context's `responseEncoder`.
extension APIKeyResponse: ResponseEncodable {}
extension AccountService.Enrolment: ResponseEncodable {}
extension BalancesResponse: ResponseEncodable {}
extension BillingRoutes.PlanChangeResponse: ResponseEncodable {}
extension BillingRoutes.Received: ResponseEncodable {}
extension BillingRoutes.SubscriptionList: ResponseEncodable {}
extension BillingRoutes.URLResponse: ResponseEncodable {}
extension CreditService.Movement: ResponseEncodable {}
extension CurrentUsageResponse: ResponseEncodable {}
extension CurrentWorkspaceResponse: ResponseEncodable {}
extension CustomerResponse: ResponseEncodable {}
extension EntitlementsResponse: ResponseEncodable {}
extension ErrorEnvelope: ResponseEncodable {}
extension HealthResponse: ResponseEncodable {}
extension HistoryResponse: ResponseEncodable {}
extension InvitationResponse: ResponseEncodable {}
extension CreditNoteDocument: ResponseEncodable {}
extension InvoiceDocument: ResponseEncodable {}
extension InvoiceDocumentRoutes.CreditNoteList: ResponseEncodable {}
extension InvoiceDocumentRoutes.BillingDetailsResponse: ResponseEncodable {}
extension InvoiceDocumentRoutes.InvoiceList: ResponseEncodable {}
extension InvoiceDocumentRoutes.OSSReturn: ResponseEncodable {}
extension InvoiceDocumentRoutes.ItemResponse: ResponseEncodable {}
extension InvoiceRoutes.InvoiceResponse: ResponseEncodable {}
extension InvoiceRoutes.SpendCapResponse: ResponseEncodable {}
extension ListResponse: ResponseEncodable {}
extension RevokedResponse: ResponseEncodable {}
extension MembersResponse: ResponseEncodable {}
extension MySubscriptionResponse: ResponseEncodable {}
extension RefusedOutcomeResponse: ResponseEncodable {}
extension SubscriptionResponse: ResponseEncodable {}
extension TokenPair: ResponseEncodable {}
extension UsageHistoryResponse: ResponseEncodable {}
extension UserResponse: ResponseEncodable {}
extension WorkspaceResponse: ResponseEncodable {}
