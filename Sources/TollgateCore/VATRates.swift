import Foundation

/// A VAT rate in basis points: 1900 is 19 %, 2550 is 25.5 %.
public typealias BasisPoints = Int

/// The standard VAT rates of the 27 EU member states, each with the day it applies from, so an
/// invoice dated before a change keeps the old rate. Sources: the European
/// Commission's "VAT rates applied in the Member States" and each state's published changes.
public enum EUVATRates {
    public struct Change: Sendable, Hashable {
        /// The first UTC day the rate applies, as yyyy-MM-dd.
        public let from: String
        public let rate: BasisPoints
    }

    /// Per ISO 3166 country code (Greece is GR here; its VAT numbers start with EL), oldest first.
    public static let standard: [String: [Change]] = [
        "AT": [Change(from: "2016-01-01", rate: 2000)],
        "BE": [Change(from: "1996-01-01", rate: 2100)],
        "BG": [Change(from: "2007-01-01", rate: 2000)],
        "CY": [Change(from: "2014-01-13", rate: 1900)],
        "CZ": [Change(from: "2013-01-01", rate: 2100)],
        "DE": [
            Change(from: "2007-01-01", rate: 1900), Change(from: "2020-07-01", rate: 1600),
            Change(from: "2021-01-01", rate: 1900),
        ],
        "DK": [Change(from: "1992-01-01", rate: 2500)],
        "EE": [
            Change(from: "2009-07-01", rate: 2000), Change(from: "2024-01-01", rate: 2200),
            Change(from: "2025-07-01", rate: 2400),
        ],
        "ES": [Change(from: "2012-09-01", rate: 2100)],
        "FI": [Change(from: "2013-01-01", rate: 2400), Change(from: "2024-09-01", rate: 2550)],
        "FR": [Change(from: "2014-01-01", rate: 2000)],
        "GR": [Change(from: "2016-06-01", rate: 2400)],
        "HR": [Change(from: "2012-03-01", rate: 2500)],
        "HU": [Change(from: "2012-01-01", rate: 2700)],
        "IE": [
            Change(from: "2012-01-01", rate: 2300), Change(from: "2020-09-01", rate: 2100),
            Change(from: "2021-03-01", rate: 2300),
        ],
        "IT": [Change(from: "2013-10-01", rate: 2200)],
        "LT": [Change(from: "2009-09-01", rate: 2100)],
        "LU": [
            Change(from: "2015-01-01", rate: 1700), Change(from: "2023-01-01", rate: 1600),
            Change(from: "2024-01-01", rate: 1700),
        ],
        "LV": [Change(from: "2012-07-01", rate: 2100)],
        "MT": [Change(from: "2004-01-01", rate: 1800)],
        "NL": [Change(from: "2012-10-01", rate: 2100)],
        "PL": [Change(from: "2011-01-01", rate: 2300)],
        "PT": [Change(from: "2011-07-01", rate: 2300)],
        "RO": [Change(from: "2017-01-01", rate: 1900), Change(from: "2025-08-01", rate: 2100)],
        "SE": [Change(from: "1990-07-01", rate: 2500)],
        "SI": [Change(from: "2013-07-01", rate: 2200)],
        "SK": [Change(from: "2011-01-01", rate: 2000), Change(from: "2025-01-01", rate: 2300)],
    ]

    public static var memberStates: Set<String> { Set(standard.keys) }

    public static func isMemberState(_ country: String) -> Bool { standard[country] != nil }

    /// The standard rate of `country` on the UTC day of `date`; nil outside the EU or before the
    /// table starts.
    public static func rate(country: String, on date: Date) -> BasisPoints? {
        let day = DayStamp.string(of: date)
        return standard[country]?.last(where: { $0.from <= day })?.rate
    }
}

/// A UTC day as yyyy-MM-dd (comparable as text): rate tables, CSV cells, printed dates.
public enum DayStamp {
    public static func string(of date: Date) -> String {
        let parts = PeriodMath.utcCalendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// A `YYYY-MM-DD` stamp as `language` writes a day: unchanged in English, `21/05/2026` in
    /// French; anything else is returned as it is.
    public static func written(_ stamp: String, language: String) -> String {
        let parts = stamp.split(separator: "-")
        guard language.lowercased().hasPrefix("fr"), stamp.count == 10, parts.count == 3 else { return stamp }
        return "\(parts[2])/\(parts[1])/\(parts[0])"
    }
}
