import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TollgateCore
import TollgateIdentity
import TollgateStorage
import TollgateWeb

/// An operator signed in to the console, and the session their cookie opened.
public struct ConsoleSignedIn: Sendable {
    public let account: OperatorRecord
    public let session: OperatorSessionRecord
}

/// The context of console pages that need a session: handlers get a non-optional operator.
struct ConsoleContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let signedIn: ConsoleSignedIn
    let clientAddress: String
    let audit: AuditNote

    init(context: TollgateRequestContext) throws {
        guard let signedIn = context.console else { throw DomainError(.unauthorized, "sign in to the console") }
        coreContext = context.coreContext
        self.signedIn = signedIn
        clientAddress = context.clientAddress
        audit = context.audit
    }
}

/// The console's choices: cookie names, whether cookies need TLS, the address in setup links.
struct ConsoleSettings: Sendable {
    static let sessionCookie = "tg_console"
    static let languageCookie = "tg_lang"
    /// `Secure` cookies: on when the console is reached over https.
    var secureCookies = false
    /// Where setup links lead (this server's own address by default).
    var publicBase: String
    var productName: String
    /// Signs the values the sign-in forms hand out (`SignInGuard`).
    var box: SecretBox
}

/// Every console answer: security headers (a CSP without inline scripts or styles, no framing,
/// no sniffing, no caching of pages), and errors as an HTML page instead of JSON.
struct ConsolePageMiddleware: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let settings: ConsoleSettings
    /// The customer portal's pages: its frame, and its pages to go back to.
    var isPortal = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorPage(error, request: request, context: context)
        }
        ConsoleHeaders.secure(&response.headers, cacheable: request.uri.path.hasPrefix("/console/assets/"))
        return response
    }

    func errorPage(_ error: any Error, request: Request, context: Context) -> Response {
        let frame =
            isPortal
            ? PortalRequest.frame(request, signedIn: context.portal, productName: settings.productName, section: "")
            : ConsoleRequest.frame(request, context: context, settings: settings, section: "")
        let status: HTTPResponse.Status
        let message: String
        switch error {
        case let error as DomainError:
            status = HTTPStatusMapping.status(for: error.code)
            message = error.message
        case let error as HTTPError where error.status.code < 500:
            status = error.status
            message = error.body ?? error.status.reasonPhrase
        default:
            context.logger.error(
                "console page failed",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            status = .internalServerError
            message = "internal error"
        }
        // Back to the page the form was on: the customer's, or the section's.
        let parts = request.uri.path.split(separator: "/")
        let back: String
        if isPortal {
            back = PortalRequest.back(from: parts.dropFirst().first.map(String.init))
        } else {
            back =
                parts.count >= 3 && parts[1] == "customers"
                ? "/console/customers/\(parts[2])" : parts.count >= 2 ? "/console/\(parts[1])" : "/console"
        }
        return ConsoleRequest.html(
            frame.problem(title: frame.t(status == .forbidden ? "forbidden" : "problem"), message: message, back: back),
            status: status)
    }
}

enum ConsoleHeaders {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"

    static func secure(_ headers: inout HTTPFields, cacheable: Bool) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[.cacheControl] = cacheable ? "public, max-age=3600" : "no-store"
    }
}

/// Resolves the session cookie. Without a valid session a page redirects to the sign-in page and
/// a form is refused.
struct ConsoleAuthenticator: RouterMiddleware {
    typealias Context = TollgateRequestContext
    let operators: OperatorService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let token = request.cookies[ConsoleSettings.sessionCookie]?.value,
            let (account, session) = try await operators.session(token: token)
        {
            var context = context
            context.console = ConsoleSignedIn(account: account, session: session)
            context.audit.actor(AuditActor(kind: .operator, id: account.id))
            return try await next(request, context)
        }
        guard request.method == .get || request.method == .head else {
            throw DomainError(.unauthorized, "your console session has ended: sign in again")
        }
        return Response.redirect(to: "/console/login", type: .normal)
    }
}

/// Refuses an operator whose role does not allow `action` (403), and a form without the
/// session's CSRF token (403), before the handler runs.
struct OperatorRequirement: RouterMiddleware {
    typealias Context = ConsoleContext
    let action: OperatorAction

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard context.signedIn.account.role.may(action) else {
            throw DomainError(
                .forbidden, "the role \(context.signedIn.account.role.rawValue) may not \(action.rawValue)")
        }
        var request = request
        if request.method == .post {
            let form = try await FormFields.read(&request, context: context)
            guard let token = form.first("csrf"),
                constantTimeEquals(token, context.signedIn.session.csrfToken)
            else { throw DomainError(.forbidden, "the form's CSRF token is missing or wrong: open the page again") }
        }
        return try await next(request, context)
    }
}

extension RouterGroup where Context == ConsoleContext {
    /// The routes added to the returned group need a role that may do `action`.
    func requiring(_ action: OperatorAction) -> RouterGroup<Context> {
        group().add(middleware: OperatorRequirement(action: action))
    }
}

/// An `application/x-www-form-urlencoded` body: the fields in order, repeated names kept.
struct FormFields: Sendable {
    let pairs: [(String, String)]

    static let maximumBytes = 65_536

    /// Reads the body (at most 64 KiB: more is 413) and puts it back, so the handler can read it
    /// again.
    static func read(_ request: inout Request, context: some RequestContext) async throws -> FormFields {
        do {
            return FormFields(String(buffer: try await request.collectBody(upTo: maximumBytes)))
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "the form is larger than \(maximumBytes / 1024) KiB")
        }
    }

    /// The same, from a request whose body another middleware may have read already.
    static func read(_ request: Request, context: some RequestContext) async throws -> FormFields {
        var copy = request
        return try await read(&copy, context: context)
    }

    init(_ text: String) {
        pairs = text.split(separator: "&").map { part in
            let pieces = part.split(separator: "=", maxSplits: 1)
            func decode(_ text: Substring?) -> String {
                let spaced = (text.map(String.init) ?? "").replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(pieces.first), decode(pieces.count > 1 ? pieces[1] : nil))
        }
    }

    func first(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// A required field, or a 400 naming it.
    func required(_ name: String) throws -> String {
        guard let value = first(name), !value.isEmpty else {
            throw DomainError.missingField(name)
        }
        return value
    }
}

/// What console handlers share: the page frame for a request, HTML answers, redirects.
enum ConsoleRequest {
    static func locale(_ request: Request) -> String {
        if let asked = request.uri.queryParameters.get("lang"), Lexicon.locales.contains(asked) { return asked }
        if let chosen = request.cookies[ConsoleSettings.languageCookie]?.value, Lexicon.locales.contains(chosen) {
            return chosen
        }
        return Lexicon.preferred(acceptLanguage: request.headers[.acceptLanguage])
    }

    static func frame(
        _ request: Request, context: TollgateRequestContext, settings: ConsoleSettings, section: String
    ) -> ConsoleFrame {
        frame(request, signedIn: context.console, settings: settings, section: section)
    }

    static func frame(
        _ request: Request, signedIn: ConsoleSignedIn?, settings: ConsoleSettings, section: String
    ) -> ConsoleFrame {
        ConsoleFrame(
            locale: locale(request), operatorEmail: signedIn?.account.email, role: signedIn?.account.role,
            csrfToken: signedIn?.session.csrfToken, section: section, path: pagePath(request),
            productName: settings.productName)
    }

    /// The page's path and query without `lang=`, for the language switch to add its own.
    static func pagePath(_ request: Request) -> String {
        var path = request.uri.path
        let query = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("lang=") }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }
        return path
    }

    /// An HTML answer; a `?lang=` choice is remembered in a cookie.
    static func html(_ page: String, status: HTTPResponse.Status = .ok, request: Request? = nil) -> Response {
        var response = Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: page)))
        if let request, let asked = request.uri.queryParameters.get("lang"), Lexicon.locales.contains(asked) {
            response.setCookie(
                // The whole site's pages (the console and /pricing) speak the language chosen.
                Cookie(
                    name: ConsoleSettings.languageCookie, value: asked, maxAge: 31_536_000, path: "/", httpOnly: true,
                    sameSite: .strict))
        }
        return response
    }

    /// After a form: back to a page (303, so a reload does not post again).
    static func seeOther(_ location: String) -> Response { Response.redirect(to: location, type: .normal) }
}
