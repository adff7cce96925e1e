import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity

/// Against login CSRF (another site posting its own credentials into our sign-in form, so that
/// the victim works in the attacker's account): the sign-in page sets a random value in a
/// `SameSite=Strict` cookie scoped to the form's path and puts the same value in the form; a
/// sign-in is taken only when both are there and equal. Another site can make a browser post
/// the form, but not send that cookie with it.
struct SignInGuard: Sendable {
    static let cookieName = "tg_signin"
    static let field = "signin"

    /// The sign-in form's path (`/portal/login`, `/console/login`): the cookie goes nowhere else.
    let path: String
    let secure: Bool

    /// A new value for a sign-in page, and the cookie that carries it.
    func issue() -> (token: String, cookie: Cookie) {
        let token = Secrets.randomId(prefix: "", bytes: 16)
        return (
            token,
            Cookie(
                name: Self.cookieName, value: token, maxAge: 3600, path: path, secure: secure, httpOnly: true,
                sameSite: .strict)
        )
    }

    /// The value the form and the cookie agree on, or nil (a form posted from elsewhere, or one
    /// whose page is older than the cookie).
    func accepted(_ request: Request, form: FormFields) -> String? {
        guard let cookie = request.cookies[Self.cookieName]?.value, !cookie.isEmpty,
            let field = form.first(Self.field),
            constantTimeEquals(cookie, field)
        else { return nil }
        return field
    }
}
