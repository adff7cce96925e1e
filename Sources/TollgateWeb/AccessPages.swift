/// The pages before a session: sign-in, and setting up an account from its one-time link.
extension ConsoleFrame {
    /// `signIn`: the value of the page's sign-in cookie, repeated in the form (login CSRF).
    public func signInPage(signIn: String, email: String? = nil, error: String? = nil) -> String {
        page(title: t("sign_in")) {
            alert(error)
            form("/console/login", classes: "card narrow") {
                el("input", ["type": "hidden", "name": "signin", "value": signIn])
                field(
                    t("email"), name: "email", type: "email", value: email, required: true,
                    extra: ["autocomplete": "username"])
                field(
                    t("password"), name: "password", type: "password", required: true,
                    extra: ["autocomplete": "current-password"])
                field(
                    t("totp_code"), name: "code", required: true,
                    extra: ["autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]{6,8}"])
                el("button", ["type": "submit"]) { t("sign_in") }
            }
        }
    }

    /// What the setup link shows: the secret to enrol (as text and as an `otpauth://` link), then
    /// the password and the first code.
    public func setupPage(
        token: String, email: String, secret: String, provisioningURI: String, sealedSecret: String,
        error: String? = nil
    ) -> String {
        page(title: t("setup_title")) {
            alert(error)
            el("p") { t("setup_intro") }
            if let code = try? QRCode(provisioningURI) {
                el("figure", ["class": "qr-figure"]) {
                    code.svg(label: t("totp_qr"))
                    el("figcaption") { t("totp_qr") }
                }
            }
            el("dl", ["class": "facts"]) {
                el("dt") { t("email") }
                el("dd") { email }
                el("dt") { t("totp_secret") }
                el("dd") { el("code", ["id": "totp-secret"]) { secret } }
                el("dt") { t("totp_link") }
                el("dd") { el("a", ["id": "totp-uri", "href": provisioningURI]) { t("totp_link_open") } }
            }
            form("/console/setup", classes: "card narrow") {
                el("input", ["type": "hidden", "name": "token", "value": token])
                el("input", ["type": "hidden", "name": "secret", "value": sealedSecret])
                field(
                    t("new_password"), name: "password", type: "password", required: true,
                    extra: ["autocomplete": "new-password", "minlength": "10"])
                field(
                    t("totp_code"), name: "code", required: true,
                    extra: ["autocomplete": "one-time-code", "inputmode": "numeric"])
                el("button", ["type": "submit"]) { t("setup_submit") }
            }
        }
    }
}
