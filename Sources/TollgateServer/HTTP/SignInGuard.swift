import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity

/// Against login CSRF (another site posting its own credentials into our sign-in form, so that
/// the victim works in the attacker's account): the sign-in page sets a value in a
/// `SameSite=Strict` cookie scoped to the form's path and puts the same value in the form; a
/// sign-in is taken only when both are there, equal, and the value is one this server made for
/// this form within the hour (a random part, its time, and an HMAC of both under a key derived
/// from the master key). Another site can make a browser post the form, but not send that
/// cookie with it, nor plant a cookie of its own making that passes.
struct SignInGuard: Sendable {
    static let cookieName = "tg_signin"
    static let field = "signin"
    static let lifetime: TimeInterval = 3600

    /// The sign-in form's path (`/portal/login`, `/console/login`): the cookie goes nowhere else.
    let path: String
    let secure: Bool
    let box: SecretBox

    /// A new value for a sign-in page, and the cookie that carries it.
    func issue(at now: Date = Date()) -> (token: String, cookie: Cookie) {
        let token = value(random: Secrets.randomId(prefix: "", bytes: 16), issued: Int64(now.timeIntervalSince1970))
        return (
            token,
            Cookie(
                name: Self.cookieName, value: token, maxAge: Int(Self.lifetime), path: path, secure: secure,
                httpOnly: true, sameSite: .strict)
        )
    }

    /// The value the form and the cookie agree on, or nil (a form posted from elsewhere, one
    /// whose page is older than the cookie or than an hour, or a value this server did not make).
    func accepted(_ request: Request, form: FormFields, at now: Date = Date()) -> String? {
        guard let cookie = request.cookies[Self.cookieName]?.value, !cookie.isEmpty,
            let field = form.first(Self.field),
            constantTimeEquals(cookie, field)
        else { return nil }
        let parts = field.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let issued = Int64(parts[1]),
            constantTimeEquals(field, value(random: String(parts[0]), issued: issued))
        else { return nil }
        let age = now.timeIntervalSince1970 - TimeInterval(issued)
        guard age >= -60, age <= Self.lifetime else { return nil }
        return field
    }

    private func value(random: String, issued: Int64) -> String {
        let signed = "\(random).\(issued)"
        return signed + "." + box.authenticationCode("\(path) \(signed)", purpose: "tollgate sign-in guard")
    }
}
