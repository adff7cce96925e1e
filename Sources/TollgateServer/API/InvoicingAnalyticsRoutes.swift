import Foundation
import Hummingbird
import TollgateBilling
import TollgateCore
import TollgateIdentity

/// `GET /v1/analytics/invoicing`: revenue as Tollgate's invoices charged it, less its credit
/// notes, beside the MRR of `/v1/analytics/revenue`.
struct InvoicingAnalyticsRoutes: Sendable {
    let invoices: InvoiceService

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.requiring(.admin).analytics("invoicing", report: report, csv: Self.csv)
    }

    struct Report: ResponseEncodable {
        struct Interval: Encodable {
            let start: Date
            let end: Date
            let invoiced: Int64
            let credited: Int64
            let net: Int64
            let tax: Int64
            let invoices: Int
            let creditNotes: Int
        }
        let currency: String
        let interval: String
        let intervals: [Interval]
    }

    @Sendable func report(_ request: Request) async throws -> Report {
        let currency = try AnalyticsQuery.currency(request)
        let (from, to, interval) = try AnalyticsQuery.intervals(request, now: invoices.now)
        let edges = RevenueSeries.boundaries(from: from, to: to, interval: interval)
        let intervals = try await invoices.invoicing(currency: currency, edges: edges).map {
            Report.Interval(
                start: $0.start, end: $0.end, invoiced: $0.invoiced, credited: $0.credited, net: $0.net, tax: $0.tax,
                invoices: $0.invoices, creditNotes: $0.creditNotes)
        }
        return Report(currency: currency.code, interval: interval.rawValue, intervals: intervals)
    }

    static func csv(_ report: Report) -> Response {
        var csv = CSVWriter(header: [
            "start", "end", "invoiced", "credited", "net", "tax", "invoices", "credit_notes",
        ])
        for row in report.intervals {
            csv.append([
                .text(AnalyticsQuery.dayText(row.start)), .text(AnalyticsQuery.dayText(row.end)),
                .number(row.invoiced), .number(row.credited), .number(row.net), .number(row.tax),
                .number(Int64(row.invoices)), .number(Int64(row.creditNotes)),
            ])
        }
        return TextAnswer.csv(csv, filename: "invoicing-\(report.currency).csv")
    }
}
