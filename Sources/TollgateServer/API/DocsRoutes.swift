import Crypto
import Foundation
import Hummingbird
import TollgateCore
import Yams

/// What a newcomer finds: `/` points to the reference, `/docs` is `openapi.yaml` rendered as one
/// readable page (server-side, no script, no CDN), `/openapi.yaml` the document itself.
struct DocsRoutes: Sendable {
    let document: String
    let reference: String

    /// Read and rendered once per process (every application built in it serves the same pages).
    static let bundled: DocsRoutes? = try? DocsRoutes()

    init() throws {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw DomainError(.internalError, "openapi.yaml is missing from this build")
        }
        document = try String(contentsOf: url, encoding: .utf8)
        reference = try APIReferencePage.render(yaml: document)
    }

    func register(on router: Router<TollgateRequestContext>) {
        let (document, reference) = (document, reference)
        router.get("openapi.yaml") { _, _ in Self.text(document, type: "application/yaml; charset=utf-8") }
        router.get("docs") { _, _ in Self.page(reference) }
        router.get("/") { _, _ in Self.page(APIReferencePage.home) }
    }

    /// A page of the reference: its one inline stylesheet allowed by its hash, nothing else (the
    /// security headers' middleware adds `X-Frame-Options` to a policy that forbids framing).
    static func page(_ html: String) -> Response {
        var response = text(html, type: "text/html; charset=utf-8")
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src '\(APIReferencePage.styleHash)'; frame-ancestors 'none'; base-uri 'none'; "
            + "form-action 'none'"
        return response
    }

    /// The same for every caller: caches may keep it five minutes.
    static func text(_ body: String, type: String) -> Response {
        TextAnswer.response(body, type: type, cacheControl: "public, max-age=300")
    }
}

/// `openapi.yaml` as HTML: each operation under its tag, with its summary, description, who may
/// call it, its parameters and its answers. Every text from the document is escaped.
enum APIReferencePage {
    /// The stylesheet's CSP source (`sha256-…`).
    static let styleHash = "sha256-" + Data(SHA256.hash(data: Data(style.utf8))).base64EncodedString()

    static let style = """
        body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
        @media (prefers-color-scheme:dark){body{background:#161618;color:#e8e8ea}code,pre{background:#26262a}}
        h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #8884}section{margin:1.2rem 0}
        h3{font-size:1rem;margin:.2rem 0}.method{display:inline-block;min-width:4.5rem;font-weight:700}
        code,pre{background:#f2f2f4;padding:.1rem .3rem;border-radius:4px}pre{padding:.6rem;white-space:pre-wrap}
        table{border-collapse:collapse}td,th{text-align:left;padding:.15rem .8rem .15rem 0;vertical-align:top}
        """

    static let home = page(
        title: "Tollgate",
        body: """
            <h1>Tollgate</h1>
            <p>The monetization backbone of a SaaS: plans as data, exact metering, credits, billing.
            The product's backend calls its API with a secret key; its customers sign in to the portal;
            its operators run the console.</p>
            <ul>
            <li><a href="/pricing" id="to-pricing">Pricing</a>: the plans, for visitors</li>
            <li><a href="/portal" id="to-portal">Customer portal</a>: plan, usage, invoices, workspaces</li>
            <li><a href="/console" id="to-console">Operator console</a>: customers, revenue, usage, audit</li>
            <li><a href="/docs">API reference</a> (rendered from the OpenAPI document)</li>
            <li><a href="/openapi.yaml">openapi.yaml</a> (OpenAPI 3.1, for generating clients)</li>
            <li><a href="/health">/health</a></li>
            </ul>
            """)

    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>\(style)</style></head>
        <body>
        \(body)
        </body></html>
        """
    }

    static func render(yaml: String) throws -> String {
        guard let root = try Yams.load(yaml: yaml) as? [String: Any] else {
            throw DomainError(.internalError, "openapi.yaml is not a mapping")
        }
        let info = root["info"] as? [String: Any] ?? [:]
        var html = "<h1>\(escape(info["title"] as? String ?? "API")) \(escape(info["version"] as? String ?? ""))</h1>\n"
        html += "<pre>\(escape(info["description"] as? String ?? ""))</pre>\n"
        let paths = root["paths"] as? [String: [String: Any]] ?? [:]
        var byTag: [String: [(path: String, method: String, operation: [String: Any])]] = [:]
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                guard let operation = item[method] as? [String: Any] else { continue }
                let tag = (operation["tags"] as? [String])?.first ?? "other"
                byTag[tag, default: []].append((path, method, operation))
            }
        }
        let tagOrder = (root["tags"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        let tags = tagOrder.filter { byTag[$0] != nil } + byTag.keys.filter { !tagOrder.contains($0) }.sorted()
        html +=
            "<nav><p>" + tags.map { "<a href=\"#\(escape($0))\">\(escape($0))</a>" }.joined(separator: " · ")
            + "</p></nav>\n"
        for tag in tags {
            html += "<h2 id=\"\(escape(tag))\">\(escape(tag))</h2>\n"
            for entry in (byTag[tag] ?? []).sorted(by: { ($0.path, $0.method) < ($1.path, $1.method) }) {
                html += operationHTML(entry.path, entry.method, entry.operation, root: root)
            }
        }
        html += webhooksHTML(root["webhooks"] as? [String: Any] ?? [:])
        return page(title: "Tollgate API reference", body: html)
    }

    /// What Tollgate posts to webhook endpoints: per payload, its event types and its `data` fields.
    private static func webhooksHTML(_ hooks: [String: Any]) -> String {
        guard !hooks.isEmpty else { return "" }
        var html = "<h2 id=\"webhook-payloads\">webhook payloads</h2>\n"
        for (name, item) in hooks.sorted(by: { $0.key < $1.key }) {
            let post = (item as? [String: Any])?["post"] as? [String: Any] ?? [:]
            let content = ((post["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"]
            let body =
                ((content as? [String: Any])?["schema"] as? [String: Any])?["properties"] as? [String: Any] ?? [:]
            let types = ((body["type"] as? [String: Any])?["enum"] as? [String] ?? []).joined(separator: ", ")
            html += "<section><h3><code>\(escape(types))</code></h3>\n"
            html += "<p>\(escape(post["summary"] as? String ?? name))</p>\n"
            let fields = (body["data"] as? [String: Any])?["properties"] as? [String: Any] ?? [:]
            html += "<table><tr><th>data</th><th>type</th><th></th></tr>"
            for (field, schema) in fields.sorted(by: { $0.key < $1.key }) {
                let schema = schema as? [String: Any] ?? [:]
                let type = (schema["type"] as? String) ?? (schema["type"] as? [String])?.joined(separator: " or ") ?? ""
                html += "<tr><td><code>\(escape(field))</code></td><td>\(escape(type))</td>"
                html += "<td>\(escape(schema["description"] as? String ?? ""))</td></tr>"
            }
            html += "</table></section>\n"
        }
        return html
    }

    private static func operationHTML(
        _ path: String, _ method: String, _ operation: [String: Any], root: [String: Any]
    ) -> String {
        var html =
            """
            <section><h3><span class=\"method\">\(escape(method.uppercased()))</span> \
            <code>\(escape(path))</code></h3>\n
            """
        if let summary = operation["summary"] as? String { html += "<p>\(escape(summary))</p>\n" }
        if let description = operation["description"] as? String { html += "<p>\(escape(description))</p>\n" }
        let security = operation["security"] as? [[String: Any]]
        let caller =
            security == nil
            ? "a secret API key" : security?.isEmpty == true ? "anyone (public)" : "an end user's access token"
        html += "<p><em>Called with \(caller).</em></p>\n"
        if let parameters = operation["parameters"] as? [[String: Any]], !parameters.isEmpty {
            html += "<table><tr><th>parameter</th><th>in</th><th></th></tr>"
            for parameter in parameters {
                let name =
                    parameter["name"] as? String ?? (parameter["$ref"] as? String)?.split(separator: "/").last.map(
                        String.init) ?? ""
                html += "<tr><td><code>\(escape(name))</code></td><td>\(escape(parameter["in"] as? String ?? ""))</td>"
                html += "<td>\(escape(parameter["description"] as? String ?? ""))</td></tr>"
            }
            html += "</table>\n"
        }
        if let responses = operation["responses"] as? [String: Any] {
            html += "<table><tr><th>answer</th><th></th></tr>"
            for (status, response) in responses.sorted(by: { $0.key < $1.key }) {
                let object = resolve(response as? [String: Any] ?? [:], in: root)
                let text = object["description"] as? String ?? ""
                html += "<tr><td>\(escape(status))</td><td>\(escape(text))</td></tr>"
            }
            html += "</table>\n"
        }
        return html + "</section>\n"
    }

    /// A `$ref` to `#/components/…` replaced by what it names (a shared answer's description).
    private static func resolve(_ object: [String: Any], in root: [String: Any]) -> [String: Any] {
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var current: Any? = root
        for part in reference.dropFirst(2).split(separator: "/") {
            current = (current as? [String: Any])?[String(part)]
        }
        return current as? [String: Any] ?? object
    }

    /// Text as HTML (`HTMLText.escape`).
    static func escape(_ text: String) -> String { HTMLText.escape(text) }
}
