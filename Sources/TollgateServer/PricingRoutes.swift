import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore
import TollgateWeb

/// The public pricing page `/pricing`, and `/embed/pricing` for a product's own site: the same
/// plans, without the header, frameable only by the origins the operator listed
/// (`serve --embed-origin`).
struct PricingRoutes: Sendable {
    let catalog: Catalog
    let embedOrigins: [String]

    func register(on router: Router<TollgateRequestContext>) {
        router.get("pricing") { request, _ in page(request, embedded: false) }
        router.get("embed/pricing") { request, _ in page(request, embedded: true) }
    }

    /// `?interval=month|year` and `?currency=`: anything else falls back to monthly in the
    /// catalog's first currency, as a page should.
    func page(_ request: Request, embedded: Bool) -> Response {
        let query = request.uri.queryParameters
        let interval = query.get("interval").flatMap(BillingInterval.init(rawValue:)) ?? .month
        let currency =
            catalog.planCurrency(query.get("currency")) ?? catalog.planCurrencies.first ?? Currency("EUR")!
        var frame = ConsoleFrame(
            locale: ConsoleRequest.locale(request), section: "pricing",
            path: embedded ? "/embed/pricing" : "/pricing", productName: catalog.name)
        frame.isPublic = true
        frame.isEmbedded = embedded
        var response = ConsoleRequest.html(
            frame.pricingPage(
                catalog, choice: .init(interval: interval, currency: currency),
                base: embedded ? "/embed/pricing" : "/pricing"),
            request: request)
        ConsoleHeaders.secure(&response.headers, cacheable: false)
        if embedded {
            let ancestors = embedOrigins.isEmpty ? "'none'" : embedOrigins.joined(separator: " ")
            response.headers[.contentSecurityPolicy] = ConsoleHeaders.contentSecurityPolicy
                .replacingOccurrences(of: "frame-ancestors 'none'", with: "frame-ancestors \(ancestors)")
            response.headers[HTTPField.Name("X-Frame-Options")!] = nil
        }
        return response
    }
}
