import Foundation
import Hummingbird
import TollgateCore
import TollgateNotify

/// The request decoder of every Tollgate context (`request.decode(as:context:)` uses it): JSON
/// with ISO 8601 times, a 1 MiB limit, and every decoding failure a 400 that names the field at
/// fault (`amount: expected a whole number`).
public struct TollgateRequestDecoder: RequestDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws
        -> T
    {
        try await JSONBody.decode(type, from: request, endpoint: context.endpointPath)
    }
}

enum JSONBody {
    static let maximumBytes = 1 << 20
    /// Bulk routes take more: 10,000 customers of a batch fit in 16 MiB with room to spare.
    static let bulkMaximumBytes = 16 << 20

    static func limit(endpoint: String?) -> Int {
        endpoint == CustomerBatchRoutes.endpoint ? bulkMaximumBytes : maximumBytes
    }

    /// A body the document marks optional: none at all reads as `{}`.
    static func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext)
        async throws -> T
    {
        let data = try await collect(request, limit: maximumBytes)
        let body = data.isEmpty ? Data("{}".utf8) : data
        return try decode(type, from: body, nulls: (request.method.rawValue, context.endpointPath))
    }

    /// `endpoint` (the route's template) says which fields the document lets be null.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, endpoint: String?) async throws -> T {
        try decode(
            type, from: try await collect(request, limit: limit(endpoint: endpoint)),
            nulls: (request.method.rawValue, endpoint))
    }

    private static func collect(_ request: Request, limit: Int) async throws -> Data {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw HTTPOnlyError(.payloadTooLarge, "request body is larger than \(limit) bytes")
        }
        return Data(buffer.readableBytesView)
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        // ISO 8601, and an error that names the field (Foundation's own loses it on Linux).
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339.date(text) else {
                throw DomainError.invalidField(
                    fieldPath(decoder.codingPath), "expected an ISO 8601 time such as 2026-05-01T00:00:00Z")
            }
            return date
        }
        return decoder
    }()

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, nulls: (method: String, endpoint: String?)? = nil)
        throws -> T
    {
        guard !data.isEmpty else { throw DomainError(.invalidJSON, "request body is empty: expected a JSON object") }
        do {
            let decoded = try decoder.decode(T.self, from: data)
            if let nulls { try RequestNulls.check(data, method: nulls.method, endpoint: nulls.endpoint) }
            return decoded
        } catch let error as DomainError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        }
    }

    static func fieldPath(_ path: [any CodingKey]) -> String {
        path.reduce("") { result, key in
            if let index = key.intValue { return "\(result)[\(index)]" }
            return result.isEmpty ? key.stringValue : "\(result).\(key.stringValue)"
        }
    }

    static func describe(_ error: DecodingError) -> DomainError {
        switch error {
        case .keyNotFound(let key, let context):
            return .missingField(fieldPath(context.codingPath + [key]))
        case .typeMismatch(let expected, let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty { return DomainError(.invalidJSON, "expected a JSON object") }
            return .invalidField(field, "expected \(describe(expected))")
        case .valueNotFound(let expected, let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty { return DomainError(.invalidJSON, "expected a JSON object") }
            return .invalidField(field, "must not be null: expected \(describe(expected))")
        case .dataCorrupted(let context):
            let field = fieldPath(context.codingPath)
            if field.isEmpty { return DomainError(.invalidJSON, "malformed JSON") }
            return .invalidField(field, context.debugDescription)
        @unknown default:
            return DomainError(.invalidJSON, "malformed JSON")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int64.Type, is Int.Type: return "a whole number"
        case is Bool.Type: return "true or false"
        case is Date.Type: return "an ISO 8601 time such as 2026-05-01T00:00:00Z"
        case is [String].Type: return "a list of strings"
        default: return "a JSON object"
        }
    }
}

/// Field rules shared by the request types.
enum Validate {
    /// The `{id}` of the request's path, checked as any identifier.
    static func pathIdentifier(_ context: some RequestContext) throws -> String {
        try pathParameter("id", context)
    }

    /// A path parameter, percent-decoded (the router matches raw segments, so `caf%C3%A9%2042`
    /// is the id `café 42`, and `a%2Fb` is `a/b`), then checked as any identifier. Every route
    /// reads its parameters here, so every id that can be created can be addressed.
    static func pathParameter(_ name: String, _ context: some RequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding else {
            throw DomainError.invalidField(name, "is not valid percent-encoding")
        }
        return try identifier(decoded, field: name)
    }

    /// Ids (customers, workspaces, keys, idempotency keys…) are 1 to 255 characters (Unicode
    /// scalars, as JSON Schema's `maxLength` counts) with no control character; any other
    /// character is allowed, and is percent-encoded in a path. The document's `Id` schema says
    /// the same.
    static func identifier(_ value: String, field: String) throws -> String {
        guard (1...255).contains(value.unicodeScalars.count) else {
            throw DomainError.invalidField(field, "must be 1 to 255 characters long")
        }
        guard !value.unicodeScalars.contains(where: \.isControlCharacter) else {
            throw DomainError.invalidField(field, "must not contain control characters")
        }
        return value
    }

    /// An identifier that may be absent.
    static func optionalIdentifier(_ value: String?, field: String) throws -> String? {
        try value.map { try identifier($0, field: field) }
    }

    /// A language of mail: one of the locales the templates are written in.
    static func locale(_ value: String?, field: String = "locale") throws -> String? {
        guard let value else { return nil }
        guard MailTemplates.locales.contains(value) else {
            throw DomainError.invalidField(field, "must be one of \(MailTemplates.locales.joined(separator: ", "))")
        }
        return value
    }

    static func optionalText(_ value: String?, field: String, maximum: Int = 1024) throws -> String? {
        guard let value else { return nil }
        // Characters (Unicode scalars), as the document's `maxLength` counts them.
        guard value.unicodeScalars.count <= maximum else {
            throw DomainError.invalidField(field, "must be at most \(maximum) characters long")
        }
        return value
    }

    /// A valid address, lowercased (see `EmailAddress`), or nil when absent.
    static func email(_ value: String?, field: String = "email") throws -> String? {
        guard let value else { return nil }
        return try EmailAddress.normalized(value, field: field)
    }
}

/// A JSON integer that reports, with its field name, a fraction or a number too large for Int64
/// (Foundation's own error for those loses the field on Linux).
struct WholeNumber: Decodable {
    let value: Int64

    init(from decoder: any Decoder) throws {
        let field = JSONBody.fieldPath(decoder.codingPath)
        let container = try decoder.singleValueContainer()
        if let exact = try? container.decode(Int64.self) {
            value = exact
            return
        }
        guard let number = try? container.decode(Decimal.self) else {
            throw DomainError.invalidField(field, "expected a whole number")
        }
        var rounded = number
        var source = number
        NSDecimalRound(&rounded, &source, 0, .plain)
        guard rounded == number else {
            throw DomainError.invalidField(field, "expected a whole number, got a fraction")
        }
        throw DomainError.invalidField(field, "number out of range")
    }
}

/// RFC 3339 times (OpenAPI's `date-time`) and days, read exactly as the document's `Timestamp`
/// and `Day` patterns describe them (`[0-9]`, not `\d`: that matches any script's digits in
/// Python and Swift): a time with `Z` or an offset, optional fractional seconds,
/// `T`/`t`; fields within their ranges. A day past its month's end rolls over (February 30th is
/// March 2nd), so whatever the pattern admits is a time.
enum RFC3339 {
    static let timestampPattern =
        #"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"#
        + #"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"#
    static let dayPattern = #"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"#

    /// A time (`2026-05-01T12:00:00Z`), or nil.
    static func date(_ text: String) -> Date? {
        guard matches(text, timestampPattern) else { return nil }
        let scalars = Array(text.unicodeScalars)
        func number(_ from: Int, _ count: Int) -> Int {
            scalars[from..<(from + count)].reduce(0) { $0 * 10 + Int($1.value - 48) }
        }
        var index = 19
        var fraction = 0.0
        if scalars[index] == "." {
            var end = index + 1
            while end < scalars.count, ("0"..."9").contains(scalars[end]) { end += 1 }
            fraction = Double("0" + String(String.UnicodeScalarView(scalars[index..<end]))) ?? 0
            index = end
        }
        var offset = 0
        if scalars[index] == "+" || scalars[index] == "-" {
            offset = (number(index + 1, 2) * 3600 + number(index + 4, 2) * 60) * (scalars[index] == "-" ? -1 : 1)
        }
        let components = DateComponents(
            year: number(0, 4), month: number(5, 2), day: number(8, 2), hour: number(11, 2),
            minute: number(14, 2), second: number(17, 2))
        return PeriodMath.utcCalendar.date(from: components).map {
            $0.addingTimeInterval(fraction - TimeInterval(offset))
        }
    }

    /// A day (`2026-05-01`, midnight UTC), or nil.
    static func day(_ text: String) -> Date? {
        guard matches(text, dayPattern) else { return nil }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        return PeriodMath.utcCalendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }

    private static func matches(_ text: String, _ pattern: String) -> Bool {
        // Built per call (a Regex is not Sendable, so it cannot be a shared constant): times are
        // parsed on a few routes' bodies and queries only, never on the meter's.
        (try? Regex(pattern).wholeMatch(in: text)) != nil
    }
}
