import Foundation

/// The one CSV writer (RFC 4180, CRLF line ends) of every export Tollgate makes. Text cells
/// that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) are
/// neutralised with a leading `'`, as OWASP advises; numbers are written as numbers (a negative
/// delta stays a number), so only `.text` cells from outside can carry such a prefix.
public struct CSVWriter: Sendable {
    public enum Cell: Sendable, Equatable {
        case text(String)
        case number(Int64)
        /// A ratio; written as Swift prints it (a negative one is a number, not a formula).
        case decimal(Double)
        /// An empty cell (a null in the JSON answer).
        case empty

        /// A whole number, or an empty cell for nil.
        public static func number(orEmpty value: Int64?) -> Cell { value.map(Cell.number) ?? .empty }
        /// A ratio, or an empty cell for nil.
        public static func decimal(orEmpty value: Double?) -> Cell { value.map(Cell.decimal) ?? .empty }
    }

    public private(set) var text: String

    public init(header: [String]) {
        text = ""
        append(header.map(Cell.text))
    }

    public mutating func append(_ row: [Cell]) {
        text += row.map(Self.encode).joined(separator: ",") + "\r\n"
    }

    static func encode(_ cell: Cell) -> String {
        switch cell {
        case .number(let value):
            return String(value)
        case .decimal(let value):
            return String(value)
        case .empty:
            return ""
        case .text(var value):
            if let first = value.unicodeScalars.first, formulaStarts.contains(first) { value = "'" + value }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }

    private static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]
}

/// Reads CSV as RFC 4180 writes it: fields separated by commas, records by CRLF or LF, a field
/// in double quotes may hold commas, line breaks and doubled quotes.
public enum CSVReader {
    /// The records, each with the line it starts on (1-based); blank lines are skipped.
    public static func records(_ text: String) -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var recordLine = 1
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
            fields = []
            field = ""
        }

        while let scalar = pending ?? scalars.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = scalars.next()
                    if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty: quoted = true
            case ",":
                fields.append(field)
                field = ""
            case "\r":
                let next = scalars.next()
                if next != "\n" { pending = next }
                endRecord()
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
