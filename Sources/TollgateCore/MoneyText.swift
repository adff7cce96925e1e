/// An amount as a reader of `language` expects it, from integers only: `2,100.00 EUR` in
/// English, `2 100,00 €` in French (for documents and mail; the console keeps the ISO code).
public enum MoneyText {
    public static func format(_ amountMinor: Int64, _ currency: Currency, language: String, withCurrency: Bool = true)
        -> String
    {
        let french = language.lowercased().hasPrefix("fr")
        let digits = currency.minorUnitDigits
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let magnitude = amountMinor.magnitude
        let whole = Array(String(magnitude / divisor))
        var figure = ""
        for (index, digit) in whole.enumerated() {
            if index > 0 && (whole.count - index) % 3 == 0 { figure += french ? " " : "," }
            figure.append(digit)
        }
        if digits > 0 {
            let fraction = String(magnitude % divisor)
            figure += (french ? "," : ".") + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        figure = (amountMinor < 0 ? "-" : "") + figure
        guard withCurrency else { return figure }
        return figure + " " + (french ? frenchSymbols[currency.code] ?? currency.code : currency.code)
    }

    static let frenchSymbols = ["EUR": "€", "USD": "$ US", "GBP": "£"]
}
