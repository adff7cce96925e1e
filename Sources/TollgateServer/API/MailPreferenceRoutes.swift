import Foundation
import Hummingbird
import TollgateCore
import TollgateIdentity
import TollgateNotify
import TollgateStorage

/// Turning non-essential mail (alerts, notices) off and on. From a mail: the link and the
/// `List-Unsubscribe` header carry the reader's address sealed with the master key; `GET` shows a
/// button (link scanners open links, they must not unsubscribe anyone), `POST` unsubscribes (RFC
/// 8058 one-click, which mail providers call). Signed-in users read and set their preference.
/// Transactional mail (verification, reset, security) is always sent.
struct MailPreferenceRoutes: Sendable {
    let mail: MailPreferenceService
    let store: any ReadModel
    let box: SecretBox

    func registerPublic(on router: Router<TollgateRequestContext>) {
        router.get("v1/mail/unsubscribe", use: confirmPage)
        router.post("v1/mail/unsubscribe", use: unsubscribe)
    }

    func registerSignedIn(on me: RouterGroup<UserContext>) {
        me.get("me/mail-preferences", use: preferences)
        me.put("me/mail-preferences", use: setPreferences)
    }

    struct Preferences: ResponseEncodable {
        let address: String
        /// Alerts and notices are sent (false: only transactional mail).
        let notices: Bool
    }

    struct PreferencesRequest: Decodable { let notices: Bool }

    private func address(fromToken request: Request) throws -> String {
        guard let token = request.uri.queryParameters.get("token"), !token.isEmpty else {
            throw DomainError.missingField("token")
        }
        guard let address = try? box.openToken(token), address.contains("@") else {
            throw DomainError.invalidField("token", "this unsubscribe link is not valid")
        }
        return address
    }

    @Sendable func confirmPage(_ request: Request, context: TollgateRequestContext) async throws -> Response {
        let address = try address(fromToken: request)
        let token = request.uri.queryParameters.get("token") ?? ""
        let action = "?token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        // In the reader's language (the browser's, or `?lang=`).
        let french = ConsoleRequest.locale(request) == "fr"
        let words =
            french
            ? (
                title: "Se désabonner", ask: "Ne plus envoyer d’alertes ni d’avis à",
                still: "Les e-mails de sécurité et de compte restent envoyés.", button: "Se désabonner"
            )
            : (
                title: "Unsubscribe", ask: "Stop alerts and notices to",
                still: "Security and account e-mails are still sent.", button: "Unsubscribe"
            )
        let page = """
            <!doctype html><html lang="\(french ? "fr" : "en")"><head><meta charset="utf-8">
            <title>\(words.title)</title></head>
            <body style="font-family: sans-serif; max-width: 36em; margin: 3em auto;">
            <p>\(words.ask) <strong>\(HTMLText.escape(address))</strong>\(french ? " ?" : "?") \(words.still)</p>
            <form method="post" action="\(HTMLText.escape(action))">
            <button type="submit">\(words.button)</button></form>
            </body></html>
            """
        // It shows someone's address: no cache keeps it (the reference pages' public caching is not for this).
        return TextAnswer.response(page, type: "text/html; charset=utf-8", cacheControl: "no-store")
    }

    @Sendable func unsubscribe(_ request: Request, context: TollgateRequestContext) async throws -> Preferences {
        let address = try address(fromToken: request)
        try await mail.unsubscribe(address)
        return Preferences(address: address.lowercased(), notices: false)
    }

    @Sendable func preferences(_ request: Request, context: UserContext) async throws -> Preferences {
        let address = try await email(of: context.user)
        return Preferences(address: address, notices: try await mail.receivesNotices(address))
    }

    @Sendable func setPreferences(_ request: Request, context: UserContext) async throws -> Preferences {
        let body = try await request.decode(as: PreferencesRequest.self, context: context)
        let address = try await email(of: context.user)
        try await mail.setNotices(address, body.notices)
        return Preferences(address: address, notices: body.notices)
    }

    private func email(of user: SignedInUser) async throws -> String {
        guard let record = try await store.user(id: user.userId) else {
            throw DomainError(.unauthorized, "this account no longer exists")
        }
        return record.email.lowercased()
    }
}
