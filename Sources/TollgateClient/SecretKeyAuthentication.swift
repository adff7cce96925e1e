import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends the product's secret API key with every request (`Authorization: Bearer <key>`).
public struct SecretKeyAuthentication: ClientMiddleware {
    private let authorization: String

    public init(secretKey: String) { authorization = "Bearer \(secretKey)" }

    public func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = authorization
        return try await next(request, body, baseURL)
    }
}

extension Client {
    /// A client of the Tollgate server at `serverURL` (for example `http://127.0.0.1:8080`),
    /// calling with the product's secret API key over `transport` (AsyncHTTPClient's, URLSession's…).
    public init(serverURL: URL, secretKey: String, transport: any ClientTransport) {
        self.init(
            serverURL: serverURL, transport: transport, middlewares: [SecretKeyAuthentication(secretKey: secretKey)])
    }
}
