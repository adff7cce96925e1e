import Foundation
import Hummingbird
import Logging
import Synchronization
import TollgateBilling
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
        /// The audited route being served, once the middleware knows it.
        var request: AuditedRequest?
        /// The actions services wrote in their changes' transactions: when the route's is among
        /// them, the middleware writes no entry of its own.
        var recorded: Set<String> = []
    }

    private let state = Mutex(State())

    var current: State { state.withLock { $0 } }

    func actor(_ actor: AuditActor) { state.withLock { $0.actor = actor } }

    func serving(_ request: AuditedRequest) { state.withLock { $0.request = request } }

    /// The state before and after the change, as JSON; equal states make no entry.
    func change(target: String? = nil, workspaceId: String? = nil, before: (any Encodable)?, after: (any Encodable)?) {
        let before = AuditChange.state(before)
        let after = AuditChange.state(after)
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

    /// The request did what another of the route's actions names (a form that sets or removes).
    func action(_ action: String) { state.withLock { $0.action = action } }

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

/// The audited route a request is serving, as the middleware found it before the handler ran.
struct AuditedRequest: Sendable {
    let route: AuditedRoute
    let parameters: [String: String]
    let ip: String
    let userAgent: String?
    let trail: AuditTrail
    /// Read before the change's transaction opens: reading it inside could wait on the writer
    /// that transaction holds.
    let sealer: any AuditSealer
}

extension AuditNote: AuditRecorder {
    /// A service's change, written in the change's own transaction.
    func record(_ change: AuditChange, in tx: any AuditStore) async throws {
        let note = current
        guard let request = note.request else { return }
        let draft = Self.draft(note: note, request: request, change: change)
        if !change.isUnchanged { try await tx.appendAuditEvent(draft, sealer: request.sealer) }
        // Unchanged too: the service answered for this request, the middleware adds nothing.
        state.withLock { _ = $0.recorded.insert(change.action) }
    }

    func record(_ changes: [AuditChange], in tx: any AuditStore) async throws {
        let note = current
        guard let request = note.request else { return }
        let drafts = changes.filter { !$0.isUnchanged }.map { Self.draft(note: note, request: request, change: $0) }
        try await tx.appendAuditEvents(drafts, sealer: request.sealer)
        state.withLock { state in
            for change in changes { state.recorded.insert(change.action) }
        }
    }

    /// The entry for the request as its note stands, `change` (a service's) taking the place of
    /// what the handler said of the target and the states.
    static func draft(note: State, request: AuditedRequest, change: AuditChange?) -> AuditDraft {
        let route = request.route
        let action = change?.action ?? note.action ?? route.action
        let routeTarget = route.target.flatMap { kind in
            request.parameters[route.targetParameter].map { "\(kind):\($0)" }
        }
        let actor = change?.actor ?? note.actor
        var draft = request.trail.draft(
            actor: actor, action: action, target: change?.target ?? note.target ?? routeTarget)
        if let once = note.once {
            draft.id = "aud_" + OpaqueDigest.hex("\(actor.kind.rawValue)|\(actor.id ?? "")|\(action)|\(once)")
        }
        draft.workspaceId =
            change?.workspaceId ?? note.workspaceId ?? route.workspaceParameter.flatMap { request.parameters[$0] }
        draft.ip = request.ip
        draft.userAgent = request.userAgent
        draft.before = change == nil ? note.before : change?.before
        draft.after = change == nil ? note.after : change?.after
        return draft
    }
}

/// Records each audited request (`AuditedRoutes`) that changed something. A service records its
/// change in the change's transaction (the note is the task's `Audit.recorder`); for a route whose
/// service does not, the entry is written here once the answer is known.
struct AuditMiddleware<Context: TollgateAuditedContext>: RouterMiddleware {
    let trail: AuditTrail

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method != .get, request.method != .head, request.method != .options,
            let template = context.endpointPath,
            let route = AuditedRoutes.table["\(request.method.rawValue) \(template)"] ?? nil
        else {
            return try await next(request, context)
        }
        let note = context.audit
        note.serving(
            AuditedRequest(
                route: route, parameters: AuditedRoutes.parameters(template: template, path: request.uri.path),
                ip: context.clientAddress, userAgent: request.headers[.userAgent].map { String($0.prefix(512)) },
                trail: trail, sealer: try await trail.chain()))
        do {
            let response = try await Audit.$recorder.withValue(note) { try await next(request, context) }
            let state = note.current
            if response.status.code < 400 || state.recordFailure {
                await record(request, note: state, logger: context.logger)
            }
            return response
        } catch {
            let state = note.current
            if state.recordFailure { await record(request, note: state, logger: context.logger) }
            throw error
        }
    }

    /// The change is made and its answer ready: an entry that cannot be written is logged, and the
    /// answer still goes out (a 500 would tell the caller the change failed, and invite a retry).
    private func record(_ request: Request, note: AuditNote.State, logger: Logger) async {
        guard let served = note.request, !note.recorded.contains(note.action ?? served.route.action),
            !note.unchanged
        else { return }
        let draft = AuditNote.draft(note: note, request: served, change: nil)
        do {
            try await trail.record(draft)
        } catch {
            logger.error(
                "audit entry not written",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
        }
    }
}

/// A context the audit middleware can read: the note and the caller's address.
protocol TollgateAuditedContext: RequestContext {
    var audit: AuditNote { get }
    var clientAddress: String { get }
}

extension TollgateRequestContext: TollgateAuditedContext {}
