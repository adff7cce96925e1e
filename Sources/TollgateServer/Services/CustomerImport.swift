import Foundation
import TollgateCore
import TollgateMeter

/// `tollgate customers import FILE`: the rows of a CSV file (a header naming the columns `id`,
/// `email`, `name`, `plan`, `locale`) or a JSON Lines file (one object per line, those keys),
/// checked and created as `POST /v1/customers/batch` does, 10,000 rows per transaction.
public enum CustomerImport {
    public enum Format: Sendable {
        case csv, jsonLines

        /// JSON Lines for `.jsonl`, `.ndjson` and `.json`; CSV otherwise.
        public init(path: String) {
            let suffix = (path as NSString).pathExtension.lowercased()
            self = ["jsonl", "ndjson", "json"].contains(suffix) ? .jsonLines : .csv
        }
    }

    public struct Refusal: Sendable {
        public let line: Int
        public let id: String
        public let error: DomainError
    }

    public struct Report: Sendable {
        public var created = 0
        public var existing = 0
        public var refused: [Refusal] = []
    }

    public static func run(_ text: String, format: Format, customers: CustomerDirectory) async throws -> Report {
        var report = Report()
        var rows: [(line: Int, row: CustomerBatchRoutes.Row)] = []
        for record in try records(text, format: format) {
            switch record.row {
            case .success(let row): rows.append((record.line, row))
            case .failure(let error): report.refused.append(Refusal(line: record.line, id: "", error: error))
            }
        }
        for chunk in rows.chunks(of: CustomerBatchRoutes.maximumRows) {
            var valid: [(line: Int, customer: CustomerDirectory.NewCustomer)] = []
            for (line, row) in chunk {
                switch CustomerBatchRoutes.parse(row) {
                case .success(let customer): valid.append((line, customer))
                case .failure(let error): report.refused.append(Refusal(line: line, id: row.id, error: error))
                }
            }
            let outcomes = try await customers.createCustomers(valid.map(\.customer))
            for ((line, customer), outcome) in zip(valid, outcomes) {
                switch outcome {
                case .created: report.created += 1
                case .existing: report.existing += 1
                case .refused(let error): report.refused.append(Refusal(line: line, id: customer.id, error: error))
                }
            }
        }
        report.refused.sort { $0.line < $1.line }
        return report
    }

    typealias Record = (line: Int, row: Swift.Result<CustomerBatchRoutes.Row, DomainError>)

    static func records(_ text: String, format: Format) throws -> [Record] {
        switch format {
        case .jsonLines:
            return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap {
                index, line in
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
                do {
                    return (
                        index + 1,
                        .success(try JSONDecoder().decode(CustomerBatchRoutes.Row.self, from: Data(line.utf8)))
                    )
                } catch {
                    return (index + 1, .failure(DomainError(.invalidJSON, "not a JSON object with an id")))
                }
            }
        case .csv:
            // A spreadsheet's "CSV UTF-8" starts with a byte-order mark.
            let records = CSVReader.records(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
            guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }),
                header.contains("id")
            else { throw DomainError.invalidField("file", "the first line names the columns, id among them") }
            let known: Set = ["id", "email", "name", "plan", "locale"]
            if let unknown = header.first(where: { !known.contains($0) }) {
                throw DomainError.invalidField(
                    "file", "unknown column \(unknown); known: id, email, name, plan, locale")
            }
            return records.dropFirst().map { record in
                guard record.fields.count == header.count else {
                    return (
                        record.line,
                        .failure(
                            DomainError.invalidField(
                                "file", "\(record.fields.count) fields, the header names \(header.count)"))
                    )
                }
                var values: [String: String] = [:]
                for (column, value) in zip(header, record.fields) where !value.isEmpty { values[column] = value }
                return (
                    record.line,
                    .success(
                        CustomerBatchRoutes.Row(
                            id: values["id"] ?? "", email: values["email"], name: values["name"], plan: values["plan"],
                            locale: values["locale"]))
                )
            }
        }
    }
}
