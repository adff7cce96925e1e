import Foundation
import Hummingbird
import Logging
import Synchronization
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// What a request tells the audit trail about itself, shared by reference between the audit
/// middleware (which writes the entry once the answer is known) and the authenticators and
/// handlers further in (which know who acts, and the state before and after).
final class AuditNote: Sendable {
    struct State: Sendable {
        var actor: AuditActor = .anonymous
        var action: String?
        var target: String?
        var workspaceId: String?
        var before: String?
        var after: String?
        /// Makes the entry's id: a form or call sent twice is recorded once.
        var once: String?
        /// Recorded although the request fails (a refused sign-in).
        var recordFailure = false
        /// Nothing changed (a repeated call found the state it asks for): no entry.
        var unchanged = false
    }

    private let state = Mutex(State())

    var current: State { state.withLock { $0 } }

    func actor(_ actor: AuditActor) { state.withLock { $0.actor = actor } }

    /// The state before and after the change, as JSON; equal states make no entry.
    func change(target: String? = nil, workspaceId: String? = nil, before: (any Encodable)?, after: (any Encodable)?) {
        let before = AuditTrail.state(before)
        let after = AuditTrail.state(after)
        state.withLock {
            if let target { $0.target = target }
            if let workspaceId { $0.workspaceId = workspaceId }
            $0.before = before
            $0.after = after
            $0.unchanged = before != nil && before == after
        }
    }

    func target(_ target: String, workspaceId: String? = nil) {
        state.withLock {
            $0.target = target
            if let workspaceId { $0.workspaceId = workspaceId }
        }
    }

    func once(_ key: String) { state.withLock { $0.once = key } }

    /// A failed attempt worth recording, under another action name (`auth.login_failed`).
    func failure(action: String, target: String?) {
        state.withLock {
            $0.action = action
            $0.target = target
            $0.recordFailure = true
        }
    }

    /// The answer changes nothing worth recording (a sign-in that now asks for the second factor).
    func skip() { state.withLock { $0.unchanged = true } }

    /// Runs a sign-in: its success names the account as actor and target; a refusal (wrong
    /// password or code, a lock) is recorded against the address that was tried. Something that
    /// is not an e-mail address is refused first (400), neither looked up nor recorded.
    func signIn<Result: Sendable>(
        as kind: AuditActor.Kind, email rawEmail: String, _ attempt: () async throws -> Result,
        account: (Result) async throws -> String
    ) async throws -> Result {
        let email = try EmailAddress.normalized(rawEmail)
        do {
            let result = try await attempt()
            let id = try await account(result)
            state.withLock {
                $0.actor = AuditActor(kind: kind, id: id)
                $0.target = "\(kind == .operator ? "operator" : "account"):\(id)"
            }
            return result
        } catch let error as DomainError
            where [.invalidCredentials, .totpInvalid, .tooManyAttempts].contains(error.code)
        {
            failure(
                action: kind == .operator ? "console.sign_in_failed" : "auth.sign_in_failed",
                target: "email:" + email)
            throw error
        }
    }
}

extension AuditNote {
    /// A subscription's change, recorded against its customer (`customer:<id>`), the target
    /// the console's customer page reads its history by; the states are the API's answer's.
    func subscription(_ before: Subscription?, _ after: Subscription, provider: String) {
        change(
            target: "customer:\(after.subject)", before: before.map { SubscriptionResponse($0, provider: provider) },
            after: SubscriptionResponse(after, provider: provider))
    }
}

/// A customer's plan as the trail records its changes.
struct PlanState: Encodable, Equatable {
    let plan: String
    let addOns: [String: Int]
    let seats: Int?
}

/// Records each audited request (`AuditedRoutes`) that changed something, after its answer.
struct AuditMiddleware<Context: TollgateAuditedContext>: RouterMiddleware {
    let trail: AuditTrail

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method != .get, request.method != .head, request.method != .options else {
            return try await next(request, context)
        }
        let note = context.audit
        do {
            let response = try await next(request, context)
            let state = note.current
            if response.status.code < 400 || state.recordFailure {
                await record(request, context: context, note: state)
            }
            return response
        } catch {
            let state = note.current
            if state.recordFailure { await record(request, context: context, note: state) }
            throw error
        }
    }

    /// The change is made and its answer ready: an entry that cannot be written is logged, and the
    /// answer still goes out (a 500 would tell the caller the change failed, and invite a retry).
    private func record(_ request: Request, context: Context, note: AuditNote.State) async {
        do {
            try await write(request, context: context, note: note)
        } catch {
            context.logger.error(
                "audit entry not written",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
        }
    }

    private func write(_ request: Request, context: Context, note: AuditNote.State) async throws {
        guard !note.unchanged, let template = context.endpointPath,
            let route = AuditedRoutes.table["\(request.method.rawValue) \(template)"] ?? nil
        else { return }
        let parameters = AuditedRoutes.parameters(template: template, path: request.uri.path)
        let action = note.action ?? route.action
        var draft = trail.draft(
            actor: note.actor, action: action,
            target: note.target
                ?? route.target.flatMap { kind in parameters[route.targetParameter].map { "\(kind):\($0)" } })
        if let once = note.once {
            draft.id = "aud_" + OpaqueDigest.hex("\(note.actor.kind.rawValue)|\(note.actor.id ?? "")|\(action)|\(once)")
        }
        draft.workspaceId = note.workspaceId ?? route.workspaceParameter.flatMap { parameters[$0] }
        draft.ip = context.clientAddress
        draft.userAgent = request.headers[.userAgent].map { String($0.prefix(512)) }
        draft.before = note.before
        draft.after = note.after
        try await trail.record(draft)
    }
}

/// A context the audit middleware can read: the note and the caller's address.
protocol TollgateAuditedContext: RequestContext {
    var audit: AuditNote { get }
    var clientAddress: String { get }
}

extension TollgateRequestContext: TollgateAuditedContext {}
