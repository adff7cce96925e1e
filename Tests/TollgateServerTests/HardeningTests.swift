import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PropertyBased
import SQLKit
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateStorage

@testable import TollgateMeter
@testable import TollgateServer

/// Findings of an outside probe, each held by the request that found it.
@Suite struct HardeningTests {
    /// bcrypt stops at NUL: "abc\0defghijkl" was stored as the hash of "abc".
    @Test func passwordsWithControlCharactersAreRefusedAndNeverSignIn() async throws {
        try await AppHarness.run(.sqlite) { _, client in
            for password in [#"\u0000Xk9#mP2$vL7q"#, #"abc\u0000defghijkl"#, #"tab\there is long enough"#] {
                let registered = try await client.call(
                    .post, "/v1/auth/register", key: nil,
                    json: #"{"email":"nul@example.com","password":"\#(password)"}"#)
                #expect(
                    registered.status == .badRequest && registered.json.errorField == "password", "\(registered.json)")
            }
            for password in ["", "abc"] {
                let login = try await client.call(
                    .post, "/v1/auth/login", key: nil, json: #"{"email":"nul@example.com","password":"\#(password)"}"#)
                #expect(login.status == .unauthorized)
            }
        }
    }

    /// bcrypt compares 72 bytes: a longer password signed in with any ending.
    @Test func aPasswordLongerThanBcryptComparesNeverSignsIn() async throws {
        let password = String(repeating: "Zq8#", count: 18) // 72 bytes, the most accepted
        try await AppHarness.run(.sqlite) { _, client in
            let registered = try await client.call(
                .post, "/v1/auth/register", key: nil, json: #"{"email":"long@example.com","password":"\#(password)"}"#)
            #expect(registered.status == .accepted, "\(registered.json)")
            let exact = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"long@example.com","password":"\#(password)"}"#)
            #expect(exact.status == .ok)
            let longer = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"long@example.com","password":"\#(password)EXTRA"}"#
            )
            #expect(longer.status == .unauthorized && longer.json.errorCode == "INVALID_CREDENTIALS")
        }
    }

    /// CR/LF in an address is a mail header injection the moment mail is sent.
    @Test func eMailAddressesThatCouldBreakAHeaderAreRefusedEverywhere() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let hostile = [
                #"x\r\nBcc:evil1@example.com"#, #"a\u0000b@example.com"#, "a b@example.com", "a@b@example.com",
                "a@localhost",
            ]
            for email in hostile {
                let registered = try await client.call(
                    .post, "/v1/auth/register", key: nil,
                    json: #"{"email":"\#(email)","password":"correct horse battery staple"}"#)
                #expect(
                    registered.status == .badRequest && registered.json.errorField == "email",
                    "\(email): \(registered.json)")
                let customer = try await client.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"c1","email":"\#(email)"}"#)
                #expect(
                    customer.status == .badRequest && customer.json.errorField == "email", "\(email): \(customer.json)")
            }
            let user = try await AccountTests.signUp(app, client, email: "Mixed.Case@Example.COM")
            let me = try await client.call(.get, "/v1/me", key: user.access)
            #expect(me.json.string("email") == "mixed.case@example.com")
            let again = try await client.call(
                .post, "/v1/auth/register", key: nil,
                json: #"{"email":"MIXED.case@example.com","password":"correct horse battery staple"}"#)
            // The same answer as for a new address; the account stays the one made first.
            #expect(again.status == .accepted)
            #expect(try await app.store.user(email: "mixed.case@example.com")?.id == user.id)
        }
    }

    /// A spreadsheet runs a cell that starts with `=`: the grant's reference came back as a formula.
    @Test func creditHistoryCSVNeutralisesFormulas() async throws {
        try await AppHarness.run(
            .sqlite, catalog: try CatalogLoader.load(contentsOf: Repository.path("catalogs/renzo.yaml"))
        ) {
            app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"agent_1"}"#)
            let grant = try await client.call(
                .post, "/v1/customers/agent_1/credits/grants", key: app.adminKey,
                json:
                    #"{"amount":5,"reason":"purchase","reference":"=HYPERLINK(\"http://evil\",\"x\")""#
                    + #","idempotencyKey":"g1"}"#
            )
            #expect(grant.status == .created || grant.status == .ok, "\(grant.json)")
            let csv = try await client.send(
                uri: "/v1/customers/agent_1/credits/history.csv", method: .get,
                headers: [.authorization: "Bearer \(app.adminKey)"])
            let text = String(decoding: Data(csv.body.readableBytesView), as: UTF8.self)
            #expect(text.contains(#""'=HYPERLINK(""http://evil"",""x"")""#), "\(text)")
            #expect(!text.contains(",=HYPERLINK") && !text.contains(#","=HYPERLINK"#))
        }
    }

    /// An ADMIN re-invited a removed ADMIN as ADMIN: only the owner may grant ADMIN.
    @Test func anAdminCanNeitherInviteNorRemoveAnAdmin() async throws {
        try await AppHarness.run(.sqlite, catalog: try WorkspaceTests.memento) { app, client in
            let owner = try await WorkspaceTests.person(app, client, "owner")
            let id = try await WorkspaceTests.createWorkspace(client, owner, plan: "business", app: app)
            let admin = try await WorkspaceTests.join(
                client, app, workspace: id, owner: owner, name: "admin", role: "ADMIN")
            let other = try await WorkspaceTests.join(
                client, app, workspace: id, owner: owner, name: "other", role: "ADMIN")
            let member = try await WorkspaceTests.join(
                client, app, workspace: id, owner: owner, name: "member", role: "MEMBER")

            let invite = try await client.call(
                .post, "/v1/workspaces/\(id)/members/invite", key: admin.access,
                json: #"{"email":"new@example.com","role":"ADMIN"}"#)
            #expect(invite.status == .forbidden && invite.json.errorField == "role", "\(invite.json)")
            let remove = try await client.call(.delete, "/v1/workspaces/\(id)/members/\(other.id)", key: admin.access)
            #expect(remove.status == .forbidden, "\(remove.json)")
            // What an ADMIN may do still works.
            let inviteMember = try await client.call(
                .post, "/v1/workspaces/\(id)/members/invite", key: admin.access,
                json: #"{"email":"new@example.com","role":"MEMBER"}"#)
            #expect(inviteMember.status == .created, "\(inviteMember.json)")
            #expect(
                try await client.call(.delete, "/v1/workspaces/\(id)/members/\(member.id)", key: admin.access).status
                    == .ok)
            #expect(
                try await client.call(.delete, "/v1/workspaces/\(id)/members/\(other.id)", key: owner.access).status
                    == .ok)
        }
    }
}

/// The router matches raw path segments, so ids with spaces, `/`, `%`, `@` or
/// non-ASCII letters were created but could not be addressed.
@Suite struct PathIdentifierTests {
    /// Percent-encodes everything but RFC 3986's unreserved characters, as a client would.
    static func pathSegment(_ id: String) -> String {
        id.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(
                charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))!
    }

    static let customerRoutes = [
        "", "/entitlements", "/usage?from=2026-01-01&to=2027-01-01", "/credits", "/credits/history",
        "/credits/history.csv",
        "/subscriptions", "/invoices", "/invoices/upcoming",
    ]

    @Test func anyIdTheAPIAcceptsIsAddressableThroughEveryCustomerRoute() async throws {
        let alphabet = Array("aZ09 -_.~/%?#&+=@:;,'!$()*[]éß中😀\\\"")
        let ids = Gen.element(of: alphabet).map { $0! }.array(of: 1...12).map { String($0) }
        try await AppHarness.run(.sqlite) { app, client in
            await propertyCheck(count: 40, input: ids) { id in
                let body = String(decoding: try JSONEncoder().encode(["id": id]), as: UTF8.self)
                let created = try await client.call(.post, "/v1/customers", key: app.adminKey, json: body)
                // 200: generated again (an id repeats across the run), with the same data.
                guard created.status == .created || created.status == .ok else {
                    Issue.record("\(id) refused at creation: \(created.json)")
                    return
                }
                let segment = Self.pathSegment(id)
                for route in Self.customerRoutes {
                    let response = try await client.send(
                        uri: "/v1/customers/\(segment)\(route)", method: .get,
                        headers: [.authorization: "Bearer \(app.adminKey)"])
                    #expect(response.status == .ok, "GET /v1/customers/\(segment)\(route) for id \(id)")
                }
                let plan = try await client.call(
                    .put, "/v1/customers/\(segment)/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
                #expect(plan.status == .ok && plan.json.string("id") == id, "\(id): \(plan.json)")
            }
            // The issue's own examples.
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"café 42"}"#)
            #expect(
                try await client.call(.get, "/v1/customers/caf%C3%A9%2042/entitlements", key: app.adminKey).status
                    == .ok)
            #expect(
                try await client.call(.get, "/v1/customers/a%2Fb", key: app.adminKey).json.errorCode
                    == "CUSTOMER_NOT_FOUND")
            let bad = try await client.call(.get, "/v1/customers/%E0%A4%A", key: app.adminKey)
            #expect(bad.status == .badRequest && bad.json.errorField == "id")
        }
    }
}

/// `keys create` made the data directory 0755 and the database 0644.
@Suite struct DataDirectoryModeTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) & 0o777
    }

    @Test func whicheverCommandComesFirstTheDataIsReadableByItsOwnerOnly() async throws {
        let parent = NSTemporaryDirectory() + "tollgate-modes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        for command in [["keys", "create", "--scope", "admin"], ["migrate"]] {
            let directory = parent + "/" + command[0]
            let result = try await TollgateBinary.run(command + ["--data-dir", directory])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.mode(directory) == 0o700, "\(command)")
            for file in try FileManager.default.contentsOfDirectory(atPath: directory)
            where file.hasPrefix("tollgate.sqlite") {
                #expect(try Self.mode(directory + "/" + file) == 0o600, "\(file) after \(command)")
            }
        }
        // An existing directory that others can read is used, with a warning.
        let open = parent + "/open"
        try FileManager.default.createDirectory(
            atPath: open, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let warned = try await TollgateBinary.run(["migrate", "--data-dir", open])
        #expect(warned.status == 0 && warned.stderr.contains("chmod 700"), "\(warned.stderr)")
    }
}

/// Every failed lookup used to stay cached, so made-up keys grew memory forever.
@Suite struct APIKeyCacheTests {
    @Test func aHundredThousandMadeUpKeysLeaveTheCacheWithinItsBound() async throws {
        try await TestDatabase.sqlite.withStore { store, _ in
            let clock = ManualClock(Fixtures.utc(2026, 5, 14))
            let authenticator = APIKeyAuthenticator(store: store, clock: clock, capacity: 100)
            let real = APIKeys.generate(scopes: [.admin], name: nil, at: clock.now())
            try await store.insertAPIKey(real.record)
            let router = Router(context: TollgateRequestContext.self)
            router.add(middleware: ErrorMiddleware())
            router.group("v1").add(middleware: authenticator).get("ping") { _, _ in "pong" }
            let app = Application(router: router)
            try await app.test(.router) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            for index in stride(from: worker, to: 100_000, by: 8) {
                                let bogus = APIKeys.secretPrefix + String(format: "%048x", index)
                                let response = try await client.send(
                                    uri: "/v1/ping", method: .get, headers: [.authorization: "Bearer \(bogus)"])
                                #expect(response.status == .unauthorized)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let ok = try await client.send(
                    uri: "/v1/ping", method: .get, headers: [.authorization: "Bearer \(real.secret)"])
                #expect(ok.status == .ok)
            }
            // At most 100 known and 100 unknown entries (each well under 1 KiB: under 200 KiB in all).
            let entries = authenticator.cachedEntries
            #expect(entries.known == 1 && entries.unknown == 100)
        }
    }
}

/// A batch whose commit failed for the server's own reason answered 200
/// with every event "failed", and logged one line per event.
@Suite struct EventBatchFailureTests {
    @Test(arguments: TestDatabase.all)
    func aBatchThatCouldNotBeCommittedAnswers503WithRetryAfterAndLandsOnRetry(database: TestDatabase) async throws {
        let flaky = FlakyProviderBox()
        try await AppHarness.run(database, wrap: { flaky.wrap($0) }) { app, client in
            try await client.call(.post, "/v1/customers", key: app.adminKey, json: #"{"id":"u1"}"#)
            try await client.call(.put, "/v1/customers/u1/plan", key: app.adminKey, json: #"{"plan":"pro"}"#)
            let batch =
                #"{"events":[{"customer":"u1","feature":"searches","idempotencyKey":"e1"}"#
                + #",{"customer":"u1","feature":"searches","amount":2,"idempotencyKey":"e2"}]}"#
            flaky.provider?.failWrites.store(true, ordering: .relaxed)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(app.adminKey)"
            headers[.contentType] = "application/json"
            let failed = try await client.send(
                uri: "/v1/events", method: .post, headers: headers, body: ByteBuffer(string: batch))
            #expect(failed.status == .serviceUnavailable && failed.headers[.retryAfter] == "1")
            flaky.provider?.failWrites.store(false, ordering: .relaxed)
            let retried = try await client.call(.post, "/v1/events", key: app.adminKey, json: batch)
            #expect(retried.status == .ok && retried.json.int("accepted") == 2, "\(retried.json)")
            let usage = try await client.call(.get, "/v1/customers/u1/entitlements", key: app.adminKey)
            let searches = (usage.json["features"] as? [[String: Any]])?.first {
                $0["feature"] as? String == "searches"
            }
            #expect(searches?["used"] as? Int == 3)
        }
    }
}

@Suite struct RepeatedErrorLogTests {
    @Test func anErrorThatRepeatsIsLoggedOncePerIntervalWithTheCountLeftOut() {
        var log = RepeatedErrorLog(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(log.shouldLog("disk full", at: start) == 0)
        for second in 1...9 { #expect(log.shouldLog("disk full", at: start + .seconds(second)) == nil) }
        #expect(log.shouldLog("disk full", at: start + .seconds(10)) == 9)
        #expect(log.shouldLog("connection lost", at: start + .seconds(11)) == 0)
    }
}

/// A data directory used with memento.yaml, restarted with renzo.yaml, served a
/// customer on `pro` the default plan's entitlements without a word.
@Suite struct CatalogChangeAtStartTests {
    @Test func aCatalogLackingWhatTheDataUsesIsRefusedWithTheList() async throws {
        try await TestDatabase.sqlite.withLocation { location in
            guard case .sqlite(let directory) = location.location else { throw TestSupportError("expected SQLite") }
            let arguments = ["--data-dir", directory]
            let key = try await TollgateBinary.run(["keys", "create", "--scope", "admin"] + arguments).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ServerProcess.start(arguments)
            #expect(try await server.request("POST", "v1/customers", key: key, json: #"{"id":"u1"}"#).status == 201)
            #expect(
                try await server.request("PUT", "v1/customers/u1/plan", key: key, json: #"{"plan":"pro"}"#).status
                    == 200)
            let consumed = try await server.request(
                "POST", "v1/consume", key: key,
                json: #"{"customer":"u1","feature":"semantic_search","idempotencyKey":"k"}"#)
            #expect(consumed.status == 200)
            server.stop()
            let refused = try await TollgateBinary.run(
                ["serve", "--port", "0", "--catalog", Repository.path("catalogs/renzo.yaml")] + arguments)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("plan pro is in use"), "\(refused.stderr)")
            #expect(refused.stderr.contains("feature semantic_search has usage"), "\(refused.stderr)")
            // The catalog it was written under still starts.
            let again = try await ServerProcess.start(arguments)
            #expect(try await again.request("GET", "v1/customers/u1", key: key).status == 200)
            again.stop()
        }
    }
}

/// A second server on a busy port crashed the debug build (an unclosed SQLite
/// connection trapped in its deinit) instead of saying the port is taken.
@Suite struct BusyPortTests {
    @Test func aSecondServerOnABusyPortSaysSoInOneLine() async throws {
        try await TestDatabase.sqlite.withLocation { location in
            guard case .sqlite(let directory) = location.location else { throw TestSupportError("expected SQLite") }
            let first = try await ServerProcess.start(["--data-dir", directory])
            defer {
                first.stop()
                try? FileManager.default.removeItem(atPath: directory + "-second")
            }
            let port = try #require(first.baseURL.port)
            let second = try await TollgateBinary.run([
                "serve", "--port", "\(port)", "--data-dir", directory + "-second",
            ])
            #expect(second.status == 1, "\(second.stderr)")
            #expect(
                second.stderr.hasSuffix("tollgate: port \(port) on 127.0.0.1 is in use (try --port)\n"),
                "\(second.stderr)")
            #expect(!second.stderr.contains("Fatal") && !second.stderr.contains("Assertion"), "\(second.stderr)")
            // The background services' cancellation is no failure to report.
            #expect(
                !second.stderr.contains("CancellationError") && !second.stderr.contains(" error "),
                "\(second.stderr)")
        }
    }

    /// SIGTERM stops the server gracefully, exit code 0 and no error printed.
    @Test func aTerminatedServerEndsQuietly() async throws {
        try await TestDatabase.sqlite.withLocation { location in
            guard case .sqlite(let directory) = location.location else { throw TestSupportError("expected SQLite") }
            let (process, out, err) = try ChildProcess.spawn(
                try TollgateBinary.path, ["serve", "--port", "0", "--data-dir", directory], stdout: .capture,
                stderr: .capture)
            let listening = await ChildProcess.firstLine(of: try #require(out), startingWith: "Tollgate listening on")
            #expect(listening != nil)
            let errors = Task.detached { String(decoding: ChildProcess.readToEnd(err!), as: UTF8.self) }
            process.signal(SIGTERM)
            #expect(await process.exit() == 0)
            let printed = await errors.value
            #expect(
                !printed.contains("Error") && !printed.contains("CancellationError") && !printed.contains(" error "),
                "\(printed)")
        }
    }
}

/// Verification, reset and invitation tokens sat in clear in `outbox.payload`.
@Suite struct SealedOutboxTokenTests {
    @Test(arguments: TestDatabase.all)
    func noSingleUseTokenIsReadableFromTheOutbox(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            let owner = try await WorkspaceTests.person(app, client, "owner")
            try await client.call(.post, "/v1/auth/password-reset", key: nil, json: #"{"email":"owner@example.com"}"#)
            let workspace = try await WorkspaceTests.createWorkspace(client, owner, plan: "business", app: app)
            let invitation = try await WorkspaceTests.invite(
                client, app, workspace: workspace, by: owner, email: "guest@example.com", role: "MEMBER")
            let verification = try await AccountTests.emailToken(
                app.store, "owner@example.com", kind: "email.verify_email")
            let reset = try await AccountTests.emailToken(app.store, "owner@example.com", kind: "email.reset_password")
            let stored =
                try await app.store.outboxMessages(recipient: "owner@example.com")
                + app.store.outboxMessages(recipient: "guest@example.com")
            #expect(stored.count == 4, "the verification, the welcome, the reset and the invitation")
            for token in [verification, reset, invitation] {
                #expect(!stored.contains { $0.payload.contains(token) }, "a token is readable in the outbox")
            }
            // Sealed, they still work: the links do what they did.
            #expect(
                try await client.call(
                    .post, "/v1/auth/password-reset/confirm", key: nil,
                    json: #"{"token":"\#(reset)","password":"a brand new passphrase"}"#
                ).status == .ok)
        }
    }
}

/// An undeclared method on a served path answered 404.
@Suite struct MethodNotAllowedTests {
    @Test func aServedPathAnswersAnotherMethodWith405AndAllow() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let wrongMethod = try await client.send(
                uri: "/v1/customers", method: .delete, headers: [.authorization: "Bearer \(app.adminKey)"])
            #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headers[.allow] == "GET, POST")
            let spendCap = try await client.send(uri: "/v1/customers/u1/spend-cap", method: .post)
            #expect(spendCap.status == .methodNotAllowed && spendCap.headers[.allow] == "DELETE, PUT")
            let body = String(decoding: Data(wrongMethod.body.readableBytesView), as: UTF8.self)
            #expect(body.contains(#""code":"METHOD_NOT_ALLOWED""#))
            // A path nothing serves is still 404.
            #expect(try await client.send(uri: "/v1/nothing/here", method: .get).status == .notFound)
        }
    }
}

/// A reset request for a known address wrote a token (a durable commit) and one
/// for an unknown address wrote nothing, so the time taken told them apart.
@Suite struct PasswordResetTimingTests {
    @Test(arguments: TestDatabase.all)
    func knownAndUnknownAddressesCostTheSameWrite(database: TestDatabase) async throws {
        try await database.withStore { store, _ in
            let clock = ManualClock(Fixtures.utc(2026, 5, 14))
            var settings = AccountSettings(audience: "test")
            settings.passwordPolicy = TestKeys.policy
            let accounts = AccountService(
                settings: settings, store: store, keys: TestKeys.ring, box: TestKeys.box, clock: clock,
                defaultPlan: "free")
            try await accounts.register(
                email: "known@example.com", password: "correct horse battery staple",
                client: ClientInfo(address: "127.0.0.1", userAgent: nil))
            func requests() async throws -> Int {
                try await store.provider.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM password_reset_requests").first()?
                        .decode(column: "n", as: Int.self) ?? 0
                }
            }
            try await accounts.requestPasswordReset(
                email: "known@example.com", client: ClientInfo(address: "127.0.0.1", userAgent: nil))
            #expect(try await requests() == 1)
            try await accounts.requestPasswordReset(
                email: "nobody@example.com", client: ClientInfo(address: "127.0.0.1", userAgent: nil))
            #expect(try await requests() == 2, "an unknown address is recorded by the same write")
            #expect(try await store.outboxMessages(recipient: "nobody@example.com").isEmpty)
            #expect(
                try await store.outboxMessages(recipient: "known@example.com").contains {
                    $0.kind == "email.reset_password"
                })
        }
    }
}

/// Five failures locked an account even against the right password, and
/// twenty failures from one address blocked sign-ups and sign-ins from it.
@Suite struct LockoutTests {
    static let password = AccountTests.password

    @Test func aLockedAccountStillOpensWithItsPasswordAndASecondFactor() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let user = try await AccountTests.signUp(app, client, email: "ada@example.com")
            let enrolment = try await client.call(.post, "/v1/me/2fa/totp", key: user.access)
            let encoded: String = try #require(enrolment.json.string("secret"))
            let totp = TOTP(secret: try #require(Base32.decode(encoded)))
            let first = totp.code(forStep: totp.step(at: app.clock.now()))
            #expect(
                try await client.call(
                    .post, "/v1/me/2fa/totp/confirm", key: user.access, json: #"{"code":"\#(first)"}"#
                )
                .status == .ok)
            for _ in 0..<5 {
                _ = try await client.call(
                    .post, "/v1/auth/login", key: nil, json: #"{"email":"ada@example.com","password":"nope nope nope"}"#
                )
            }
            // Locked: the password alone waits, a wrong code with it waits too.
            let credentials = #""email":"ada@example.com","password":"\#(Self.password)""#
            #expect(
                try await client.call(.post, "/v1/auth/login", key: nil, json: "{\(credentials)}").status
                    == .tooManyRequests)
            #expect(
                try await client.call(.post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"000000"}"#)
                    .status == .tooManyRequests)
            app.clock.advance(by: 30)
            let code = totp.code(forStep: totp.step(at: app.clock.now()))
            let opened = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(code)"}"#)
            #expect(opened.status == .ok, "\(opened.json)")
        }
    }

    @Test func oneAddressMistypingOnePasswordIsNotBlocked() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            _ = try await AccountTests.signUp(app, client, email: "ada@example.com")
            // 30 failures on one account from one address, the account lock expiring in between.
            for round in 0..<6 {
                for _ in 0..<5 {
                    _ = try await client.call(
                        .post, "/v1/auth/login", key: nil,
                        json: #"{"email":"ada@example.com","password":"typo typo typo"}"#)
                }
                if round < 5 { app.clock.advance(by: 60) }
            }
            // Another person behind the same address still signs up.
            let other = try await client.call(
                .post, "/v1/auth/register", key: nil,
                json: #"{"email":"bob@example.com","password":"\#(Self.password)"}"#)
            #expect(other.status == .accepted, "\(other.json)")
        }
    }
}
