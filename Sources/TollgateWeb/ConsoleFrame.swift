import TollgateCore

/// What every console page knows: the reader's language, who is signed in, the session's CSRF
/// token for its forms, and where the page is.
public struct ConsoleFrame: Sendable {
    public var locale: String
    public var operatorEmail: String?
    public var role: OperatorRole?
    public var csrfToken: String?
    /// The section highlighted in the navigation (`overview`, `customers`, …).
    public var section: String
    /// This page's path and query, for the language switch.
    public var path: String
    public var productName: String
    /// A page for anyone (the pricing page): the product's name, no console navigation.
    public var isPublic = false
    /// Drawn inside another site's frame: no header at all.
    public var isEmbedded = false
    /// A page of the customer portal: the product's name, the portal's navigation once an end
    /// user (`userEmail`) is signed in.
    public var isPortal = false
    public var userEmail: String?

    public init(
        locale: String, operatorEmail: String? = nil, role: OperatorRole? = nil, csrfToken: String? = nil,
        section: String = "", path: String = "/console", productName: String = "Tollgate"
    ) {
        self.locale = Lexicon.locales.contains(locale) ? locale : Lexicon.defaultLocale
        self.operatorEmail = operatorEmail
        self.role = role
        self.csrfToken = csrfToken
        self.section = section
        self.path = path
        self.productName = productName
    }

    /// The word for `key` in the page's language.
    public func t(_ key: String) -> String { Lexicon.word(key, locale: locale) }

    /// A notice a page was sent back with (`?notice=<key>`): only the lexicon's own words
    /// (`notice_<key>`), never the address's text.
    public func notice(_ key: String?) -> String? {
        guard let key, Lexicon.knows("notice_" + key, locale: locale) else { return nil }
        return t("notice_" + key)
    }

    /// A stored word (a status, a provider, a reason) in the reader's language: `kind_value` in the
    /// lexicon, else the word as stored (a value a later version added is still shown).
    public func word(_ kind: String, _ value: String) -> String {
        Lexicon.knows("\(kind)_\(value)", locale: locale) ? t("\(kind)_\(value)") : value
    }

    public func may(_ action: OperatorAction) -> Bool { role?.may(action) ?? false }

    public func money(_ amount: Int64, _ currency: Currency) -> String {
        Formats.money(amount, currency, locale: locale)
    }

    public func number(_ value: Int64) -> String { Formats.number(value, locale: locale) }
    public func number(_ value: Int) -> String { Formats.number(Int64(value), locale: locale) }
    public func percent(_ share: Double?) -> String { Formats.percent(share, locale: locale) }

    /// A form that posts to `action` with the session's CSRF token; `confirm` asks first (console.js).
    public func form(
        _ action: String, confirm: String? = nil, classes: String? = nil, @HTMLBuilder _ content: () -> HTML
    ) -> HTML {
        el("form", ["method": "post", "action": action, "data-confirm": confirm, "class": classes]) {
            el("input", ["type": "hidden", "name": "csrf", "value": csrfToken ?? ""])
            content()
        }
    }

    /// A labelled input.
    public func field(
        _ label: String, name: String, type: String = "text", value: String? = nil, required: Bool = false,
        id given: String? = nil, extra: KeyValuePairs<String, String?> = [:]
    ) -> HTML {
        let id = given ?? "f-" + name
        return el("div", ["class": "field"]) {
            el("label", ["for": id]) { label }
            inputElement(id: id, name: name, type: type, value: value, required: required, extra: extra)
        }
    }

    private func inputElement(
        id: String, name: String, type: String, value: String?, required: Bool, extra: KeyValuePairs<String, String?>
    ) -> HTML {
        let base: [(String, String?)] = [
            ("id", id), ("name", name), ("type", type), ("value", value), ("required", required ? "" : nil),
        ]
        return el("input", attributes: base + extra.map { ($0.key, $0.value) })
    }

    /// The whole page: header, navigation, `content`.
    public func page(title: String, @HTMLBuilder _ content: () -> HTML) -> String {
        let sections: [(key: String, href: String)] =
            isPortal
            ? [
                ("portal_plan", "/portal"), ("portal_change_plan", "/portal/upgrade"), ("invoices", "/portal/invoices"),
                ("workspaces", "/portal/workspace"), ("security", "/portal/security"),
            ]
            : [
                ("overview", "/console"), ("customers", "/console/customers"), ("usage", "/console/usage"),
                ("catalog", "/console/catalog"), ("deliveries", "/console/deliveries"),
                ("api_keys", "/console/api-keys"), ("operators", "/console/operators"),
            ] + (may(.viewAudit) ? [("audit", "/console/audit")] : [])
        let signedIn = isPortal ? userEmail != nil : operatorEmail != nil
        let other = locale == "fr" ? "en" : "fr"
        let separator = path.contains("?") ? "&" : "?"
        return HTML.document(
            el("html", ["lang": locale]) {
                el("head") {
                    el("meta", ["charset": "utf-8"])
                    el("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])
                    el("title") {
                        isPublic || isPortal
                            ? "\(title) · \(productName)" : "\(title) · \(productName) · \(t("console"))"
                    }
                    el("link", ["rel": "stylesheet", "href": "/console/assets/console.css"])
                    el("script", ["src": "/console/assets/console.js", "defer": ""])
                }
                el("body", ["class": isEmbedded ? "embedded" : nil]) {
                    if !isEmbedded {
                        el("header", ["class": "top"]) {
                            if isPortal {
                                el("a", ["class": "brand", "href": "/portal"]) { productName }
                            } else if isPublic {
                                el("a", ["class": "brand", "href": "/pricing"]) { productName }
                            } else {
                                el("a", ["class": "brand", "href": "/console"]) { "\(productName) · \(t("console"))" }
                            }
                            if signedIn {
                                el("nav", ["aria-label": t("navigation")]) {
                                    el("ul") {
                                        for entry in sections {
                                            el("li") {
                                                el(
                                                    "a",
                                                    [
                                                        "href": entry.href,
                                                        "aria-current": entry.key == section ? "page" : nil,
                                                    ]
                                                ) { t(entry.key) }
                                            }
                                        }
                                    }
                                }
                            }
                            el("div", ["class": "who"]) {
                                el(
                                    "a",
                                    [
                                        "href": path + separator + "lang=" + other, "hreflang": other,
                                        "lang": other,
                                    ]
                                ) { other == "fr" ? "Français" : "English" }
                                if isPortal, let userEmail {
                                    el("span", ["id": "signed-in-as"]) { userEmail }
                                    form("/portal/logout", classes: "inline") {
                                        el("button", ["type": "submit", "class": "link"]) { t("sign_out") }
                                    }
                                } else if let operatorEmail {
                                    el("span") { "\(operatorEmail) (\(role.map { t("role_" + $0.rawValue) } ?? ""))" }
                                    form("/console/logout", classes: "inline") {
                                        el("button", ["type": "submit", "class": "link"]) { t("sign_out") }
                                    }
                                }
                            }
                        }
                    }
                    el("main", ["id": "main"]) {
                        el("h1") { title }
                        content()
                    }
                }
            })
    }

    /// What went wrong with the form just sent, announced to screen readers; nothing without one.
    func alert(_ error: String?) -> HTML {
        guard let error, let first = error.first else { return .empty }
        // The services' messages start in lower case, made to follow a field's name in JSON.
        return el("p", ["class": "error", "role": "alert"]) { first.uppercased() + error.dropFirst() }
    }

    /// What the action just done did (`?notice=`), announced politely; nothing without one.
    func noticeLine(_ notice: String?) -> HTML {
        guard let notice else { return .empty }
        return el("p", ["class": "notice", "role": "status", "id": "notice"]) { notice }
    }

    /// A page that says what went wrong, with a way back.
    public func problem(title: String, message: String, back: String) -> String {
        page(title: title) {
            alert(message)
            el("p") { el("a", ["href": back]) { t("back") } }
        }
    }
}
