import Foundation
import TollgateCore

/// The portal's security page: devices signed in (each can be signed out), the password, and the
/// second factor — enrolled from a QR code drawn by Tollgate, with recovery codes shown once.
public struct PortalSecurityData: Sendable {
    public struct Device: Sendable {
        public let id: String
        public let userAgent: String?
        public let ip: String?
        public let lastUsed: Date
        public let isThisOne: Bool

        public init(id: String, userAgent: String?, ip: String?, lastUsed: Date, isThisOne: Bool) {
            self.id = id
            self.userAgent = userAgent
            self.ip = ip
            self.lastUsed = lastUsed
            self.isThisOne = isThisOne
        }
    }

    public struct Enrolment: Sendable {
        public let secret: String
        public let uri: String

        public init(secret: String, uri: String) {
            self.secret = secret
            self.uri = uri
        }
    }

    public var devices: [Device]
    public var totpEnabled: Bool
    /// The account's address now.
    public var email = ""
    /// An enrolment just begun: the secret to scan, and the form for the first code.
    public var enrolment: Enrolment?
    /// Codes made just now, shown this once.
    public var recoveryCodes: [String]?

    public init(devices: [Device], totpEnabled: Bool, enrolment: Enrolment? = nil, recoveryCodes: [String]? = nil) {
        self.devices = devices
        self.totpEnabled = totpEnabled
        self.enrolment = enrolment
        self.recoveryCodes = recoveryCodes
    }
}

extension ConsoleFrame {
    public func portalSecurityPage(_ data: PortalSecurityData, notice: String? = nil, error: String? = nil) -> String {
        page(title: t("security")) {
            noticeLine(notice)
            alert(error)
            el("section", ["aria-labelledby": "h-2fa"]) {
                el("h2", ["id": "h-2fa"]) { t("two_factor") }
                twoFactor(data)
            }
            el("section", ["aria-labelledby": "h-devices"]) {
                el("h2", ["id": "h-devices"]) { t("devices") }
                el("div", ["class": "scroll"]) {
                    el("table", ["id": "devices"]) {
                        el("thead") {
                            el("tr") {
                                for header in ["device", "ip", "last_used", "actions"] {
                                    el("th", ["scope": "col"]) { t(header) }
                                }
                            }
                        }
                        el("tbody") {
                            for device in data.devices {
                                el("tr") {
                                    // The browser and system in words; the raw header on hover.
                                    el("td", ["title": device.userAgent, "class": "device"]) {
                                        (device.userAgent.map { DeviceName.describe($0) ?? $0 } ?? "—")
                                            + (device.isThisOne ? " (\(t("this_device")))" : "")
                                    }
                                    el("td") { device.ip ?? "—" }
                                    el("td") { Formats.time(device.lastUsed) }
                                    el("td") {
                                        form("/portal/sessions/\(Paths.segment(device.id))/revoke", classes: "inline") {
                                            el("button", ["type": "submit", "class": "link"]) { t("sign_out") }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            el("section", ["aria-labelledby": "h-password"]) {
                el("h2", ["id": "h-password"]) { t("password") }
                form("/portal/password", classes: "card narrow") {
                    field(
                        t("current_password"), name: "current", type: "password", required: true,
                        extra: ["autocomplete": "current-password"])
                    field(
                        t("new_password"), name: "password", type: "password", required: true,
                        extra: ["autocomplete": "new-password", "minlength": "10"])
                    el("p", ["class": "muted"]) { t("password_change_signs_out") }
                    el("button", ["type": "submit", "id": "change-password"]) { t("change_password") }
                }
            }
            el("section", ["aria-labelledby": "h-email"]) {
                el("h2", ["id": "h-email"]) { t("email_address") }
                form("/portal/email", classes: "card narrow") {
                    el("p") { data.email }
                    field(
                        t("new_email"), name: "email", type: "email", required: true,
                        extra: ["autocomplete": "email"])
                    field(
                        t("current_password"), name: "email_password", type: "password", required: true,
                        extra: ["autocomplete": "current-password"])
                    el("p", ["class": "muted"]) { t("email_change_explained") }
                    el("button", ["type": "submit", "id": "change-email"]) { t("change_email") }
                }
            }
        }
    }

    @HTMLBuilder
    func twoFactor(_ data: PortalSecurityData) -> HTML {
        if let codes = data.recoveryCodes {
            el("p", ["class": "notice", "role": "status"]) { t("recovery_codes_once") }
            el("ul", ["class": "codes", "id": "recovery-codes"]) {
                for code in codes { el("li") { el("code") { code } } }
            }
        }
        if let enrolment = data.enrolment {
            el("p") { t("totp_scan") }
            if let code = try? QRCode(enrolment.uri) {
                el("figure", ["class": "qr-figure", "id": "totp-qr"]) {
                    code.svg(label: t("totp_qr"))
                    el("figcaption") { t("totp_qr") }
                }
            }
            el("dl", ["class": "facts"]) {
                el("dt") { t("totp_secret") }
                el("dd") { el("code", ["id": "totp-secret"]) { enrolment.secret } }
            }
            form("/portal/security/totp/confirm", classes: "card narrow") {
                field(
                    t("totp_code"), name: "code", required: true,
                    extra: ["autocomplete": "one-time-code", "inputmode": "numeric"])
                el("button", ["type": "submit", "id": "confirm-totp"]) { t("turn_on") }
            }
        } else if data.totpEnabled {
            el("p", ["id": "totp-state"]) { t("totp_on") }
            form("/portal/security/totp/disable", classes: "card narrow") {
                field(t("totp_or_recovery"), name: "code", required: true, extra: ["autocomplete": "one-time-code"])
                el("button", ["type": "submit", "class": "danger"]) { t("turn_off") }
            }
        } else {
            el("p", ["id": "totp-state"]) { t("totp_off") }
            form("/portal/security/totp") {
                el("button", ["type": "submit", "id": "enable-totp"]) { t("set_up_totp") }
            }
        }
    }
}
