import Foundation
import TollgateCore

/// Numbers, money, dates and percentages as each language writes them, from integers only.
public enum Formats {
    /// `1,234.56 EUR` in English, `1 234,56 EUR` in French.
    public static func money(_ amountMinor: Int64, _ currency: Currency, locale: String) -> String {
        let digits = currency.minorUnitDigits
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let magnitude = amountMinor.magnitude
        var text = grouped(magnitude / divisor, locale: locale)
        if digits > 0 {
            let fraction = String(magnitude % divisor)
            text += (locale == "fr" ? "," : ".") + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return (amountMinor < 0 ? "−" : "") + text + " " + currency.code
    }

    public static func number(_ value: Int64, locale: String) -> String {
        (value < 0 ? "−" : "") + grouped(value.magnitude, locale: locale)
    }

    /// A share as a percentage with one decimal: `12.5%`, `12,5 %`.
    public static func percent(_ share: Double?, locale: String) -> String {
        guard let share, share.isFinite else { return "—" }
        let tenths = Int64((share * 1000).rounded())
        let text = number(tenths / 10, locale: locale) + (locale == "fr" ? "," : ".") + String(abs(tenths % 10))
        return locale == "fr" ? text + " %" : text + "%"
    }

    public static func day(_ date: Date) -> String { DayStamp.string(of: date) }

    /// `2026-11-30 14:05 UTC`.
    public static func time(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let minutes = ((seconds % 86_400) + 86_400) % 86_400 / 60
        return day(date) + " " + two(minutes / 60) + ":" + two(minutes % 60) + " UTC"
    }

    /// `Nov 2026` / `nov. 2026`.
    public static func month(_ date: Date, locale: String) -> String {
        let parts = PeriodMath.utcCalendar.dateComponents([.year, .month], from: date)
        let names =
            locale == "fr"
            ? ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
            : ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(names[(parts.month ?? 1) - 1]) \(parts.year ?? 1970)"
    }

    private static func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func grouped(_ value: UInt64, locale: String) -> String {
        let digits = Array(String(value))
        let separator: Character = locale == "fr" ? "\u{202F}" : ","
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { text.append(separator) }
            text.append(digit)
        }
        return text
    }
}
