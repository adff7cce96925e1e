import Foundation
import Hummingbird
import Logging
import TollgateCore
import TollgateIdentity

/// Who is calling, once authenticated.
public struct Caller: Sendable {
    public let keyId: String
    public let scopes: Set<Scope>
    /// The rate-limit bucket its requests are counted in (shared with the key that minted it).
    public var bucket: String

    public init(keyId: String, scopes: Set<Scope>, bucket: String? = nil) {
        self.keyId = keyId
        self.scopes = scopes
        self.bucket = bucket ?? keyId
    }

    public func require(_ scope: Scope) throws {
        guard scopes.contains(.admin) || scopes.contains(scope) else {
            throw DomainError(.forbidden, "this API key lacks the scope \(scope.rawValue)", field: "scope")
        }
    }
}

/// The context of every request; `caller` is set by the API-key middleware on `/v1` routes.
public struct TollgateRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestDecoder: TollgateRequestDecoder { TollgateRequestDecoder() }
    public var responseEncoder: JSONEncoder { TollgateJSON.encoder }
    public var caller: Caller?
    public var user: SignedInUser?
    /// The operator signed in to the console (set by the console's session middleware).
    public var console: ConsoleSignedIn?
    /// The end user signed in to the portal (set by the portal's cookie middleware).
    public var portal: PortalSignedIn?
    /// The peer's IP address, for throttling ("unknown" when the transport has none).
    public let clientAddress: String
    /// What the audit trail records of this request (filled in by authenticators and handlers).
    let audit = AuditNote()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
        user = nil
        console = nil
        portal = nil
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// The context of end-user routes (`Authorization: Bearer <access token>`).
public struct UserContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestDecoder: TollgateRequestDecoder { TollgateRequestDecoder() }
    public var responseEncoder: JSONEncoder { TollgateJSON.encoder }
    public let user: SignedInUser
    let audit: AuditNote

    public init(context: TollgateRequestContext) throws {
        guard let user = context.user else {
            throw DomainError(.unauthorized, "missing access token: send Authorization: Bearer <access token>")
        }
        coreContext = context.coreContext
        self.user = user
        audit = context.audit
    }
}

/// The context of authenticated routes: handlers get a non-optional caller.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestDecoder: TollgateRequestDecoder { TollgateRequestDecoder() }
    public var responseEncoder: JSONEncoder { TollgateJSON.encoder }
    public let caller: Caller
    let audit: AuditNote

    public init(context: TollgateRequestContext) throws {
        guard let caller = context.caller else {
            throw DomainError(.unauthorized, "missing API key: send Authorization: Bearer <secret key>")
        }
        coreContext = context.coreContext
        self.caller = caller
        audit = context.audit
    }
}
