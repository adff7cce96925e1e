/// The portal's pages before a session: sign-in (with the second factor when the account has
/// one), sign-up, the e-mail link's confirmation, and the password reset.
extension ConsoleFrame {
    /// A frame for the customer portal.
    public static func portal(
        locale: String, userEmail: String?, csrfToken: String?, section: String, path: String, productName: String
    ) -> ConsoleFrame {
        var frame = ConsoleFrame(
            locale: locale, csrfToken: csrfToken, section: section, path: path, productName: productName)
        frame.isPortal = true
        frame.userEmail = userEmail
        return frame
    }

    func emailField(_ email: String?) -> HTML {
        field(
            t("email"), name: "email", type: "email", value: email, required: true, extra: ["autocomplete": "username"])
    }

    /// `next`: where to go once signed in (a portal path). `askCode`: the account has a second
    /// factor, so its code is asked for too.
    /// `signIn`: the value of the page's sign-in cookie, repeated in the form (login CSRF).
    public func portalSignInPage(
        signIn: String, email: String? = nil, next: String? = nil, askCode: Bool = false, error: String? = nil
    ) -> String {
        page(title: t("sign_in")) {
            alert(error)
            form("/portal/login", classes: "card narrow") {
                el("input", ["type": "hidden", "name": "signin", "value": signIn])
                if let next { el("input", ["type": "hidden", "name": "next", "value": next]) }
                emailField(email)
                field(
                    t("password"), name: "password", type: "password", required: true,
                    extra: ["autocomplete": "current-password"])
                if askCode {
                    el("p", ["id": "second-step"]) { t("second_step_explained") }
                    field(
                        t("totp_or_recovery"), name: "code", required: true,
                        extra: ["autocomplete": "one-time-code", "autofocus": ""])
                }
                el("button", ["type": "submit", "id": "sign-in"]) { t("sign_in") }
            }
            el("p") {
                el("a", ["href": "/portal/signup" + Paths.query([("next", next)]), "id": "to-sign-up"]) {
                    t("create_account")
                }
                " · "
                el("a", ["href": "/portal/reset-password"]) { t("forgot_password") }
            }
        }
    }

    /// `next`: where the person was going (a trial, an invitation), carried through the
    /// verification link and the sign-in.
    public func portalSignUpPage(email: String? = nil, next: String? = nil, error: String? = nil) -> String {
        page(title: t("create_account")) {
            alert(error)
            form("/portal/signup", classes: "card narrow") {
                if let next { el("input", ["type": "hidden", "name": "next", "value": next]) }
                emailField(email)
                field(
                    t("new_password"), name: "password", type: "password", required: true,
                    extra: ["autocomplete": "new-password", "minlength": "10"])
                el("button", ["type": "submit", "id": "sign-up"]) { t("create_account") }
            }
            el("p") { el("a", ["href": "/portal/login" + Paths.query([("next", next)])]) { t("have_account") } }
        }
    }

    /// A page that only says something, with a link onwards.
    public func portalMessage(title: String, message: String, link: (href: String, label: String)?) -> String {
        page(title: title) {
            el("p", ["class": "notice", "role": "status", "id": "message"]) { message }
            if let link { el("p") { el("a", ["href": link.href]) { link.label } } }
        }
    }

    /// What the verification link opens: a button, so that a mail scanner fetching the link
    /// does not spend it.
    public func portalVerifyPage(token: String, next: String? = nil) -> String {
        oneClickPage(action: "/portal/verify-email", title: "verify_email", id: "verify", token: token, next: next)
    }

    /// The page an e-mail change's link opens (in the new address's mailbox).
    public func portalConfirmEmailPage(token: String) -> String {
        oneClickPage(action: "/portal/confirm-email", title: "confirm_email", id: "confirm", token: token)
    }

    /// A link's page: one button that sends its token, so a mail scanner opening the link spends
    /// nothing.
    private func oneClickPage(action: String, title: String, id: String, token: String, next: String? = nil)
        -> String
    {
        page(title: t(title)) {
            el("p") { t(title + "_intro") }
            form(action, classes: "card narrow") {
                el("input", ["type": "hidden", "name": "token", "value": token])
                if let next { el("input", ["type": "hidden", "name": "next", "value": next]) }
                el("button", ["type": "submit", "id": id]) { t(title) }
            }
        }
    }

    public func portalResetRequestPage(error: String? = nil) -> String {
        page(title: t("forgot_password")) {
            alert(error)
            form("/portal/reset-password/request", classes: "card narrow") {
                emailField(nil)
                el("button", ["type": "submit"]) { t("send_reset_link") }
            }
        }
    }

    public func portalResetPage(token: String, error: String? = nil) -> String {
        page(title: t("choose_password")) {
            alert(error)
            form("/portal/reset-password", classes: "card narrow") {
                el("input", ["type": "hidden", "name": "token", "value": token])
                field(
                    t("new_password"), name: "password", type: "password", required: true,
                    extra: ["autocomplete": "new-password", "minlength": "10"])
                el("button", ["type": "submit"]) { t("choose_password") }
            }
        }
    }
}
