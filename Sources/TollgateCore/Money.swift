/// An ISO 4217 currency code, upper case.
public struct Currency: Hashable, Sendable, Codable, CustomStringConvertible {
    public let code: String

    /// Returns nil unless `code` is three ASCII letters; it is upper-cased.
    public init?(_ code: String) {
        let upper = code.uppercased()
        guard upper.count == 3, upper.allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        self.code = upper
    }

    public var description: String { code }

    /// Digits after the decimal point in the currency's minor unit (ISO 4217).
    public var minorUnitDigits: Int {
        switch code {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
            "XPF":
            return 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
            return 3
        default:
            return 2
        }
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = Currency(raw) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 4217 code: \(raw)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// Money is an integer count of minor units plus its currency; never a floating-point number.
public struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    public let amountMinor: Int64
    public let currency: Currency

    public init(_ amountMinor: Int64, _ currency: Currency) {
        self.amountMinor = amountMinor
        self.currency = currency
    }

    /// "9.90 EUR": formatted from integers only.
    public var description: String {
        let digits = currency.minorUnitDigits
        guard digits > 0 else { return "\(amountMinor) \(currency)" }
        var divisor: Int64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let magnitude = amountMinor.magnitude
        let whole = magnitude / UInt64(divisor)
        let fraction = String(magnitude % UInt64(divisor))
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return "\(amountMinor < 0 ? "-" : "")\(whole).\(padded) \(currency)"
    }
}
