import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore
import TollgateIdentity
import TollgateMeter
import TollgateStorage
import TollgateWeb

/// The public pricing page `/pricing`, and `/embed/pricing` for a product's own site: the same
/// plans, without the header, frameable only by the origins the operator listed
/// (`serve --embed-origin`). Each plan has its call to action, leading into the portal; a user
/// signed in to the portal sees their plan marked.
struct PricingRoutes: Sendable {
    let catalog: Catalog
    let embedOrigins: [String]
    /// Where "Contact sales" leads (a `mailto:` link or a URL); nil: the portal's page for the plan.
    let salesContact: String?
    /// Reads the portal's cookie when there is one (a signed-out reader sees the same page).
    let portal: PortalAuthenticator
    let customers: CustomerDirectory

    func register(on router: Router<TollgateRequestContext>) {
        let pages = router.group().add(middleware: portal)
        pages.get("pricing") { request, context in try await page(request, context, embedded: false) }
        pages.get("embed/pricing") { request, context in try await page(request, context, embedded: true) }
    }

    /// `?interval=month|year` and `?currency=`: anything else falls back to monthly in the
    /// catalog's first currency, as a page should.
    func page(_ request: Request, _ context: TollgateRequestContext, embedded: Bool) async throws -> Response {
        let query = request.uri.queryParameters
        let interval = query.get("interval").flatMap(BillingInterval.init(rawValue:)) ?? .month
        let currency =
            catalog.planCurrency(query.get("currency")) ?? catalog.planCurrencies.first ?? Currency("EUR")!
        var frame = ConsoleFrame(
            locale: ConsoleRequest.locale(request), section: "pricing",
            path: embedded ? "/embed/pricing" : "/pricing", productName: catalog.name)
        frame.isPublic = true
        frame.isEmbedded = embedded
        var currentPlan: String?
        if let signedIn = context.portal { currentPlan = try await customers.customer(id: signedIn.user.id).planId }
        var response = ConsoleRequest.html(
            frame.pricingPage(
                catalog, choice: .init(interval: interval, currency: currency),
                base: embedded ? "/embed/pricing" : "/pricing", signedIn: context.portal != nil,
                currentPlan: currentPlan, salesContact: salesContact),
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
