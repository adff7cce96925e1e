import Foundation
import HTTPTypes
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateStorage
import TollgateWeb

/// The customer portal at `/portal`: sign-up, e-mail verification, sign-in
/// (with the second factor when on) and password reset before a session; then the pages of
/// `PortalPages`, each behind the session cookie and, for forms, its CSRF token. E-mailed links
/// (`verify-email`, `reset-password`, `join`, `plan`…) lead here unless `--public-url` names the
/// product's own front end.
struct PortalRoutes: Sendable {
    let accounts: AccountService
    let cookie: PortalCookie
    let settings: ConsoleSettings
    let pages: PortalPages

    func register(on router: Router<TollgateRequestContext>) {
        let portal = router.group("portal").add(middleware: ConsolePageMiddleware(settings: settings, isPortal: true))
        portal.get("login", use: signInPage)
        portal.post("login", use: signIn)
        portal.get("signup", use: signUpPage)
        portal.post("signup", use: signUp)
        portal.get("verify-email", use: verifyPage)
        portal.post("verify-email", use: verify)
        portal.get("confirm-email", use: confirmEmailPage)
        portal.post("confirm-email", use: confirmEmail)
        portal.get("reset-password", use: resetPage)
        portal.post("reset-password/request", use: requestReset)
        portal.post("reset-password", use: reset)
        let signedIn = portal.add(
            middleware: PortalAuthenticator(accounts: accounts, cookie: cookie, required: true)
        )
        .group(context: PortalContext.self).add(middleware: PortalFormGuard())
        signedIn.post("logout", use: signOut)
        pages.register(on: signedIn)
    }

    private func frame(_ request: Request) -> ConsoleFrame {
        PortalRequest.frame(request, signedIn: nil, productName: settings.productName, section: "")
    }

    private func client(_ request: Request, _ context: TollgateRequestContext) -> ClientInfo {
        ClientInfo(address: context.clientAddress, userAgent: request.headers[.userAgent])
    }

    var signInGuard: SignInGuard {
        SignInGuard(path: "/portal/login", secure: settings.secureCookies, box: settings.box)
    }

    @Sendable func signInPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let next = request.uri.queryParameters.get("next").map { PortalRequest.safeNext(String($0)) }
        return freshSignIn(frame(request), next: next, request: request)
    }

    /// The sign-in page with a new guard value (and its cookie).
    private func freshSignIn(
        _ frame: ConsoleFrame, next: String?, error: String? = nil, status: HTTPResponse.Status = .ok,
        request: Request? = nil
    ) -> Response {
        let (token, guardCookie) = signInGuard.issue()
        var response = ConsoleRequest.html(
            frame.portalSignInPage(signIn: token, next: next, error: error), status: status, request: request)
        response.setCookie(guardCookie)
        return response
    }

    /// Password, then the code when the account has a second factor: the page asks again with
    /// the code field rather than failing.
    @Sendable func signIn(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        let email = try form.required("email"), password = try form.required("password")
        let code = form.first("code").flatMap { $0.isEmpty ? nil : $0 }
        let next = PortalRequest.safeNext(form.first("next"))
        guard let guardToken = signInGuard.accepted(request, form: form) else {
            return freshSignIn(frame, next: next, error: frame.t("sign_in_expired"), status: .badRequest)
        }
        do {
            let signedIn = try await context.audit.signIn(as: .user, email: email) {
                let tokens = try await accounts.login(
                    email: email, password: password, totp: code, client: client(request, context))
                return try await accounts.authenticate(accessToken: tokens.accessToken)
            } account: {
                $0.userId
            }
            var response = ConsoleRequest.seeOther(next)
            response.setCookie(cookie.cookie(sessionId: signedIn.sessionId))
            return response
        } catch let error as DomainError where error.code == .totpRequired {
            context.audit.skip()
            return ConsoleRequest.html(
                frame.portalSignInPage(signIn: guardToken, email: email, next: next, askCode: true))
        } catch let error as DomainError where error.code == .invalidCredentials || error.code == .totpInvalid {
            return ConsoleRequest.html(
                frame.portalSignInPage(
                    signIn: guardToken, email: email, next: next, askCode: code != nil,
                    error: frame.t("sign_in_failed")),
                status: .unauthorized)
        }
    }

    /// Where the person was going, from the query or the form: a portal path, else nothing.
    private func next(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        let safe = PortalRequest.safeNext(value)
        return safe == "/portal" ? nil : safe
    }

    @Sendable func signUpPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let next = next(request.uri.queryParameters.get("next").map { String($0) })
        return ConsoleRequest.html(frame(request).portalSignUpPage(next: next), request: request)
    }

    @Sendable func signUp(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        let email = try form.required("email"), password = try form.required("password")
        let next = next(form.first("next"))
        do {
            try await accounts.register(
                email: email, password: password, locale: frame.locale, next: next, client: client(request, context))
        } catch let error as DomainError where [.weakPassword, .invalidField].contains(error.code) {
            return ConsoleRequest.html(
                frame.portalSignUpPage(email: email, next: next, error: error.message), status: .badRequest)
        }
        return ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("check_mail_title"), message: frame.t("check_mail"),
                link: ("/portal/login" + Paths.query([("next", next)]), frame.t("sign_in"))))
    }

    @Sendable func verifyPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let token = request.uri.queryParameters.get("token") ?? ""
        let next = next(request.uri.queryParameters.get("next").map { String($0) })
        return ConsoleRequest.html(frame(request).portalVerifyPage(token: token, next: next), request: request)
    }

    @Sendable func verify(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        do {
            try await accounts.verifyEmail(token: try form.required("token"))
        } catch let error as DomainError where error.code == .invalidToken {
            return invalidLink(frame)
        }
        // On to where the person was going (signing in first when needed).
        let onward = next(form.first("next"))
        return ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("verify_email"), message: frame.t("verified"),
                link: (onward ?? "/portal", frame.t(onward == nil ? "portal_plan" : "continue"))))
    }

    @Sendable func confirmEmailPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let token = request.uri.queryParameters.get("token") ?? ""
        return ConsoleRequest.html(frame(request).portalConfirmEmailPage(token: token), request: request)
    }

    /// An e-mail change's link, followed: the account takes the new address (the audit trail
    /// records it as the account's own act).
    @Sendable func confirmEmail(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        do {
            try await accounts.confirmEmailChange(token: try form.required("token"))
        } catch let error as DomainError where error.code == .invalidToken || error.code == .emailTaken {
            return invalidLink(frame)
        }
        return ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("confirm_email"), message: frame.t("email_now"),
                link: ("/portal/login", frame.t("sign_in"))))
    }

    private func invalidLink(_ frame: ConsoleFrame) -> Response {
        ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("problem"), message: frame.t("invalid_link"), link: ("/portal/login", frame.t("sign_in"))
            ),
            status: .badRequest)
    }

    /// Without a token: the form asking for the address; with one (the e-mailed link): the new password.
    @Sendable func resetPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let frame = frame(request)
        guard let token = request.uri.queryParameters.get("token") else {
            return ConsoleRequest.html(frame.portalResetRequestPage(), request: request)
        }
        return ConsoleRequest.html(frame.portalResetPage(token: String(token)), request: request)
    }

    @Sendable func requestReset(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        try await accounts.requestPasswordReset(email: try form.required("email"), client: client(request, context))
        return ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("forgot_password"), message: frame.t("reset_sent"),
                link: ("/portal/login", frame.t("sign_in"))))
    }

    @Sendable func reset(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        var request = request
        let form = try await FormFields.read(&request, context: context)
        let frame = frame(request)
        let token = try form.required("token")
        do {
            try await accounts.resetPassword(token: token, newPassword: try form.required("password"))
        } catch let error as DomainError where error.code == .weakPassword {
            return ConsoleRequest.html(frame.portalResetPage(token: token, error: error.message), status: .badRequest)
        } catch let error as DomainError where error.code == .invalidToken {
            return invalidLink(frame)
        }
        return ConsoleRequest.html(
            frame.portalMessage(
                title: frame.t("choose_password"), message: frame.t("password_changed"),
                link: ("/portal/login", frame.t("sign_in"))))
    }

    @Sendable func signOut(_ request: Request, context: PortalContext) async throws -> Response {
        try? await accounts.signOut(userId: context.userId, sessionId: context.signedIn.sessionId)
        var response = ConsoleRequest.seeOther("/portal/login")
        response.setCookie(cookie.cookie(sessionId: nil))
        return response
    }
}
