import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TollgateCore
import TollgateIdentity
import TollgateStorage
import TollgateWeb

/// The operator console at `/console`: sign-in and account setup, then the pages, each behind an
/// operator session and the role its actions need (`OperatorRequirement`).
struct ConsoleRoutes: Sendable {
    let operators: OperatorService
    let settings: ConsoleSettings
    let pages: ConsolePages
    let clock: any TollgateClock

    func register(on router: Router<TollgateRequestContext>) {
        let console = router.group("console").add(middleware: ConsolePageMiddleware(settings: settings))
        // Read once: the files ship in the binary and do not change while it runs.
        let stylesheet = Self.asset("console", "css", type: "text/css; charset=utf-8")
        let script = Self.asset("console", "js", type: "text/javascript; charset=utf-8")
        console.get("assets/console.css") { _, _ in try stylesheet.get() }
        console.get("assets/console.js") { _, _ in try script.get() }
        console.get("login", use: signInPage)
        console.post("login", use: signIn)
        console.get("setup", use: setupPage)
        console.post("setup", use: setup)
        let signedIn = console.add(middleware: ConsoleAuthenticator(operators: operators))
            .group(context: ConsoleContext.self)
        signedIn.requiring(.read).post("logout", use: signOut)
        pages.register(on: signedIn)
    }

    static func asset(_ name: String, _ ext: String, type: String) -> Result<Response, DomainError> {
        guard let url = Bundle.tollgateWeb.url(forResource: name, withExtension: ext),
            let data = try? Data(contentsOf: url)
        else { return .failure(DomainError(.notFound, "no such asset")) }
        return .success(
            Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data))))
    }

    private func frame(_ request: Request, _ context: TollgateRequestContext) -> ConsoleFrame {
        ConsoleRequest.frame(request, signedIn: nil, settings: settings, section: "")
    }

    var signInGuard: SignInGuard {
        SignInGuard(path: "/console/login", secure: settings.secureCookies, box: settings.box)
    }

    @Sendable func signInPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        freshSignIn(frame(request, context), request: request)
    }

    /// The sign-in page with a new guard value (and its cookie).
    private func freshSignIn(
        _ frame: ConsoleFrame, error: String? = nil, status: HTTPResponse.Status = .ok, request: Request? = nil
    ) -> Response {
        let (token, guardCookie) = signInGuard.issue()
        var response = ConsoleRequest.html(
            frame.signInPage(signIn: token, error: error), status: status, request: request)
        response.setCookie(guardCookie)
        return response
    }

    @Sendable func signIn(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request, context)
        let email = try form.required("email")
        let password = try form.required("password"), code = try form.required("code")
        guard let guardToken = signInGuard.accepted(request, form: form) else {
            return freshSignIn(frame, error: frame.t("sign_in_expired"), status: .badRequest)
        }
        do {
            let signIn = try await context.audit.signIn(as: .operator, email: email) {
                try await operators.signIn(email: email, password: password, code: code, address: context.clientAddress)
            } account: {
                $0.account.id
            }
            return started(signIn)
        } catch let error as DomainError where error.code == .invalidCredentials {
            return ConsoleRequest.html(
                frame.signInPage(signIn: guardToken, email: email, error: frame.t("sign_in_failed")),
                status: .unauthorized)
        }
    }

    @Sendable func setupPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let frame = frame(request, context)
        guard let token = request.uri.queryParameters.get("token"),
            let enrolment = try? await operators.enrolment(token: token)
        else {
            return ConsoleRequest.html(
                frame.problem(title: frame.t("setup_title"), message: frame.t("setup_invalid"), back: "/console/login"),
                status: .notFound)
        }
        return ConsoleRequest.html(
            frame.setupPage(
                token: token, email: enrolment.account.email, secret: enrolment.secret,
                provisioningURI: enrolment.provisioningURI, sealedSecret: enrolment.sealedSecret),
            request: request)
    }

    @Sendable func setup(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request, context)
        let token = try form.required("token")
        do {
            let signIn = try await operators.completeSetup(
                token: token, password: form.first("password") ?? "", sealedSecret: try form.required("secret"),
                code: form.first("code") ?? "", address: context.clientAddress)
            context.audit.actor(AuditActor(kind: .operator, id: signIn.account.id))
            context.audit.target("operator:\(signIn.account.id)")
            return started(signIn)
        } catch let error as DomainError where error.code == .weakPassword || error.code == .totpInvalid {
            // The same secret again, so the authenticator already enrolled still matches.
            let enrolment = try await operators.enrolment(token: token, reusing: form.first("secret"))
            return ConsoleRequest.html(
                frame.setupPage(
                    token: token, email: enrolment.account.email, secret: enrolment.secret,
                    provisioningURI: enrolment.provisioningURI, sealedSecret: enrolment.sealedSecret,
                    error: error.message),
                status: .badRequest)
        } catch let error as DomainError where error.code == .invalidToken {
            return ConsoleRequest.html(
                frame.problem(title: frame.t("setup_title"), message: frame.t("setup_invalid"), back: "/console/login"),
                status: .notFound)
        }
    }

    /// The session cookie, then the overview.
    private func started(_ signIn: OperatorService.SignIn) -> Response {
        var response = ConsoleRequest.seeOther("/console")
        response.setCookie(
            Cookie(
                name: ConsoleSettings.sessionCookie, value: signIn.token, path: "/console",
                secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    @Sendable func signOut(_ request: Request, context: ConsoleContext) async throws -> Response {
        // Named before the service writes the entry, in the sign-out's transaction.
        context.audit.target("operator:\(context.signedIn.account.id)")
        if let token = request.cookies[ConsoleSettings.sessionCookie]?.value {
            try await operators.signOut(token: token)
        }
        var response = ConsoleRequest.seeOther("/console/login")
        response.setCookie(
            Cookie(
                name: ConsoleSettings.sessionCookie, value: "", maxAge: 0, path: "/console",
                secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }
}

extension Bundle {
    /// TollgateWeb's resources (the stylesheet and the script).
    static var tollgateWeb: Bundle { ConsoleAssets.bundle }
}
