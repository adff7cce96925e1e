import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL

/// How the server meets the network: TLS when given a certificate, how long an
/// idle or slow connection may hold a socket, the origins browsers may call the API from.
public struct HTTPSettings: Sendable {
    /// Serve https with this (`serve --tls-cert --tls-key`); nil: plain http (behind a proxy).
    public var tls: TLSConfiguration?
    /// A connection that sends or receives nothing for this long is closed: a slow client that
    /// dribbles its headers holds a socket no longer than this.
    public var idleTimeoutSeconds = 30
    /// Origins allowed to call the API from a browser (CORS); none by default.
    public var corsOrigins: [String] = []

    public init() {}

    /// `https` when serving TLS, else `http`.
    public var scheme: String { tls == nil ? "http" : "https" }

    /// Header sizes and counts far beyond what any client of Tollgate sends, far below what
    /// would let one request take much memory.
    static let headerLimits = HTTP1Channel.Configuration.DecoderConfiguration(
        maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 100)

    /// The server's channel: HTTP/1.1, with TLS when configured.
    func serverBuilder() throws -> HTTPServerBuilder {
        let http = HTTPServerBuilder.http1(
            configuration: .init(
                idleTimeout: .seconds(Int64(idleTimeoutSeconds)), httpDecoderConfiguration: Self.headerLimits))
        guard let tls else { return http }
        return try .tls(http, tlsConfiguration: tls)
    }

    /// A server configuration from PEM files: the certificate chain, then its private key.
    public static func tls(certificatePath: String, keyPath: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

/// Headers every answer carries, whatever produced it (a page, JSON, an error): no MIME
/// sniffing, no referrer leaking a page's query to another site, HSTS when served over TLS, and
/// the request's id (`X-Request-Id`, as the logs name it). Pages add their own
/// Content-Security-Policy and framing rules.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let strictTransport: Bool
    /// The public address is https: every cookie set is `Secure`, whoever set it.
    var secureCookies = false

    /// For an HTML page that set no policy of its own: nothing from elsewhere, never framed.
    static var defaultPagePolicy: String {
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        if response.headers[HTTPField.Name("X-Content-Type-Options")!] == nil {
            response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        }
        if response.headers[HTTPField.Name("Referrer-Policy")!] == nil {
            response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        }
        response.headers[HTTPField.Name("X-Request-Id")!] = context.id
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            if response.headers[.contentSecurityPolicy] == nil {
                response.headers[.contentSecurityPolicy] = Self.defaultPagePolicy
            }
            // Old browsers read framing from this header only; a page that lets named sites
            // frame it (the embeddable pricing table) says so in its policy and gets none.
            let neverFramed = response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true
            if neverFramed, response.headers[HTTPField.Name("X-Frame-Options")!] == nil {
                response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
            }
        }
        if secureCookies {
            let cookies = response.headers[values: .setCookie]
            if cookies.contains(where: { !Self.isSecure($0) }) {
                response.headers[values: .setCookie] = cookies.map { Self.isSecure($0) ? $0 : $0 + "; Secure" }
            }
        }
        if strictTransport {
            response.headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000"
        }
        return response
    }
}

extension SecurityHeadersMiddleware {
    static func isSecure(_ setCookie: String) -> Bool {
        setCookie.split(separator: ";").dropFirst().contains {
            $0.trimmingCharacters(in: .whitespaces).lowercased() == "secure"
        }
    }
}

/// CORS for the origins listed (`serve --cors-origin`): a preflight from one of them is answered
/// here, and its requests' answers name it; any other origin gets no CORS header at all, so a
/// browser keeps the answer from it.
struct CORSAllowList<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    static var allowedMethods: String { "GET, POST, PUT, PATCH, DELETE" }
    static var allowedHeaders: String { "Authorization, Content-Type, If-None-Match" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers: HTTPFields = [
                .accessControlAllowOrigin: origin, .accessControlAllowMethods: Self.allowedMethods,
                .accessControlAllowHeaders: Self.allowedHeaders, .accessControlMaxAge: "600",
            ]
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "ETag, Retry-After, Location"
        response.headers[.vary] = [response.headers[.vary], "Origin"].compactMap { $0 }.joined(separator: ", ")
        return response
    }
}
