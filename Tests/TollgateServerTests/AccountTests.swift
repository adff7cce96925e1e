import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateStorage

@testable import TollgateServer

@Suite struct AccountTests {
    static let password = "correct horse battery staple"

    /// Registers, follows the verification link (`verified`) and signs in; returns the user id and
    /// the token pair.
    static func signUp(_ app: AppHarness, _ client: some TestClientProtocol, email: String, verified: Bool = true)
        async throws -> (id: String, access: String, refresh: String)
    {
        let registered = try await client.call(
            .post, "/v1/auth/register", key: nil, json: #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(registered.status == .accepted, "\(registered.json)")
        if verified {
            let token = try await emailToken(app.store, email.lowercased(), kind: "email.verify_email")
            let verification = try await client.call(
                .post, "/v1/auth/verify-email", key: nil, json: #"{"token":"\#(token)"}"#)
            #expect(verification.status == .ok, "\(verification.json)")
        }
        let login = try await client.call(
            .post, "/v1/auth/login", key: nil, json: #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(login.status == .ok, "\(login.json)")
        let access = try #require(login.json.string("accessToken"))
        // The account's id comes with signing in: registration tells nothing about the address.
        let me = try await client.call(.get, "/v1/me", key: access)
        return (try #require(me.json.string("id")), access, try #require(login.json.string("refreshToken")))
    }

    static func emailToken(_ store: any Storage, _ email: String, kind: String) async throws -> String {
        let message = try #require(try await store.outboxMessages(recipient: email).last { $0.kind == kind })
        let payload = try #require(
            try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: String])
        return try TestKeys.box.openToken(try #require(payload["sealedToken"]))
    }

    @Test(arguments: TestDatabase.all)
    func registerVerifySignInRefreshAndSignOut(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let registered = try await client.call(
                .post, "/v1/auth/register", key: nil,
                json: #"{"email":"Ada@Example.com","password":"\#(Self.password)"}"#)
            #expect(
                registered.status == .accepted && registered.json.string("email") == "ada@example.com"
                    && registered.json.string("status") == "verification_sent")
            let id = try #require(try await app.store.user(email: "ada@example.com")).id
            // Registering made the user a customer of the core, on the free plan.
            #expect(try await app.store.customer(id: id)?.planId == "free")
            // A taken address gets the same answer (no enumeration); its owner is told by e-mail.
            let taken = try await client.call(
                .post, "/v1/auth/register", key: nil,
                json: #"{"email":"ada@example.com","password":"another passphrase 12"}"#)
            #expect(
                taken.status == registered.status && Set(taken.json.keys) == Set(registered.json.keys)
                    && taken.json.string("email") == registered.json.string("email")
                    && taken.json.string("status") == registered.json.string("status"))
            let told = try await app.store.outboxMessages(recipient: "ada@example.com").filter {
                $0.kind == "email.account_exists"
            }
            #expect(told.count == 1, "the owner of the address hears of the attempt")
            #expect(try await app.store.user(email: "ada@example.com")?.id == id, "the account is untouched")

            let token = try await Self.emailToken(app.store, "ada@example.com", kind: "email.verify_email")
            #expect(
                try await client.call(.post, "/v1/auth/verify-email", key: nil, json: #"{"token":"\#(token)"}"#).status
                    == .ok)
            let reused = try await client.call(
                .post, "/v1/auth/verify-email", key: nil, json: #"{"token":"\#(token)"}"#)
            #expect(reused.status == .unauthorized && reused.json.errorCode == "INVALID_TOKEN")

            let login = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#)
            #expect(
                login.status == .ok && login.json.string("tokenType") == "Bearer" && login.json.int("expiresIn") == 900)
            let access = try #require(login.json.string("accessToken")),
                refresh = try #require(login.json.string("refreshToken"))
            let me = try await client.call(.get, "/v1/me", key: access)
            #expect(
                me.status == .ok && me.json.string("id") == id && me.json["emailVerified"] as? Bool == true
                    && me.json.string("plan") == "free")
            // An API key is not an access token, and the reverse.
            #expect(try await client.call(.get, "/v1/me", key: app.adminKey).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/customers/\(id)", key: access).status == .unauthorized)

            let refreshed = try await client.call(
                .post, "/v1/auth/refresh", key: nil, json: #"{"refreshToken":"\#(refresh)"}"#)
            #expect(refreshed.status == .ok)
            let newAccess = try #require(refreshed.json.string("accessToken"))
            #expect(try await client.call(.get, "/v1/me", key: newAccess).status == .ok)
            // Replaying the spent refresh token revokes the whole session: both access tokens die.
            let replay = try await client.call(
                .post, "/v1/auth/refresh", key: nil, json: #"{"refreshToken":"\#(refresh)"}"#)
            #expect(replay.status == .unauthorized && replay.json.errorCode == "INVALID_TOKEN")
            #expect(try await client.call(.get, "/v1/me", key: newAccess).status == .unauthorized)
            let secondRefresh = try #require(refreshed.json.string("refreshToken"))
            #expect(
                try await client.call(
                    .post, "/v1/auth/refresh", key: nil, json: #"{"refreshToken":"\#(secondRefresh)"}"#
                ).status == .unauthorized)

            let second = try await Self.signUp(app, client, email: "bob@example.com")
            #expect(try await client.call(.post, "/v1/auth/logout", key: second.access).status == .ok)
            #expect(try await client.call(.get, "/v1/me", key: second.access).status == .unauthorized)
        }
    }

    /// The tokens' `alg` stays `EdDSA`, the only name PyJWT knows for Ed25519;
    /// joserfc, which knows RFC 9864's fully specified `Ed25519` too, verifies them as well.
    @Test(arguments: ["pyjwt", "joserfc"])
    func accessTokensVerifyWithPythonLibrariesAgainstTheJWKS(library: String) async throws {
        let python = try PythonPeers.interpreter
        // PyJWT checks expiry against the real time, so this app runs on it too.
        try await AppHarness.run(.sqlite, clock: ManualClock(Date())) { app, client in
            let user = try await Self.signUp(app, client, email: "ada@example.com")
            let response = try await client.send(uri: "/.well-known/jwks.json", method: .get)
            let jwks = String(decoding: Data(response.body.readableBytesView), as: UTF8.self)
            let result = try await TollgateBinary.runProgram(
                python, [Repository.path("Tests/peers/verify_jwt.py"), jwks, user.access, "test", library])
            #expect(result.status == 0, "\(result.stderr)")
            let claims = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(
                claims["sub"] as? String == user.id && claims["plan"] as? String == "free"
                    && claims["iss"] as? String == "tollgate")
            #expect((claims["exp"] as? Int ?? 0) - (claims["iat"] as? Int ?? 0) == 900)
            let forged = try await TollgateBinary.runProgram(
                python, [Repository.path("Tests/peers/verify_jwt.py"), jwks, user.access + "x", "test", library])
            #expect(forged.status != 0)
            let otherAudience = try await TollgateBinary.runProgram(
                python, [Repository.path("Tests/peers/verify_jwt.py"), jwks, user.access, "another-product", library])
            #expect(otherAudience.status != 0)
        }
    }

    @Test(arguments: TestDatabase.all)
    func twoFactorEnrolmentEnforcementReplayAndRecoveryCodes(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let user = try await Self.signUp(app, client, email: "ada@example.com")
            let enrolment = try await client.call(.post, "/v1/me/2fa/totp", key: user.access)
            let encodedSecret = try #require(enrolment.json.string("secret"))
            let secret = try #require(Base32.decode(encodedSecret))
            #expect(
                enrolment.json.string("otpauthUri")?.hasPrefix("otpauth://totp/test:ada@example.com?secret=") == true)
            let totp = TOTP(secret: secret)
            // Not enforced before confirmation; a wrong first code is refused.
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil,
                    json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#
                ).status == .ok)
            let wrong = try await client.call(
                .post, "/v1/me/2fa/totp/confirm", key: user.access, json: #"{"code":"000000"}"#)
            #expect(
                wrong.status == .unauthorized && wrong.json.errorCode == "TOTP_INVALID"
                    && wrong.json.errorField == "code")
            let confirmCode = totp.code(forStep: totp.step(at: app.clock.now()))
            let confirmed = try await client.call(
                .post, "/v1/me/2fa/totp/confirm", key: user.access, json: #"{"code":"\#(confirmCode)"}"#)
            let recovery = try #require(confirmed.json["recoveryCodes"] as? [String])
            #expect(recovery.count == 10 && Set(recovery).count == 10)
            // The secret is sealed at rest.
            let stored = try #require(try await app.store.user(id: user.id)?.totpSecret)
            let opened = try TestKeys.box.open(stored)
            #expect(!stored.contains(Base32.encode(secret)) && opened == secret)

            let credentials = #""email":"ada@example.com","password":"\#(Self.password)""#
            let missing = try await client.call(.post, "/v1/auth/login", key: nil, json: "{\(credentials)}")
            #expect(missing.status == .unauthorized && missing.json.errorCode == "TOTP_REQUIRED")
            // The code that confirmed enrolment cannot be replayed; the next step's code works once.
            let replayed = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(confirmCode)"}"#)
            #expect(replayed.status == .unauthorized && replayed.json.errorCode == "TOTP_INVALID")
            app.clock.advance(by: 30)
            let next = totp.code(forStep: totp.step(at: app.clock.now()))
            #expect(
                try await client.call(.post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(next)"}"#)
                    .status == .ok)
            #expect(
                try await client.call(.post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(next)"}"#)
                    .json.errorCode == "TOTP_INVALID")
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(recovery[3])"}"#
                ).status == .ok)
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil, json: #"{\#(credentials),"totp":"\#(recovery[3])"}"#
                ).status == .unauthorized)

            #expect(
                try await client.call(
                    .post, "/v1/me/2fa/totp/disable", key: user.access, json: #"{"code":"\#(recovery[5])"}"#
                ).status == .ok)
            #expect(try await client.call(.post, "/v1/auth/login", key: nil, json: "{\(credentials)}").status == .ok)
            // The owner of the account was told both times, whatever their mail preferences.
            let kinds = try await app.store.outboxMessages(recipient: "ada@example.com").map(\.kind)
            #expect(
                kinds.filter { $0.hasPrefix("email.two_factor") } == [
                    "email.two_factor_enabled", "email.two_factor_disabled",
                ])
        }
    }

    @Test func failedSignInsAreThrottledAndNeverRevealWhetherTheAccountExists() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            _ = try await Self.signUp(app, client, email: "ada@example.com")
            let unknown = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"nobody@example.com","password":"whatever it is"}"#)
            let wrong = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"ada@example.com","password":"whatever it is"}"#)
            #expect(unknown.status == .unauthorized && wrong.status == .unauthorized)
            #expect(NSDictionary(dictionary: unknown.json) == NSDictionary(dictionary: wrong.json))
            for _ in 0..<4 {
                #expect(
                    try await client.call(
                        .post, "/v1/auth/login", key: nil,
                        json: #"{"email":"ada@example.com","password":"nope nope nope"}"#
                    ).status == .unauthorized)
            }
            // Five failures: even the right password waits now, and is told how long.
            let response = try await client.send(
                uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#))
            #expect(response.status == .tooManyRequests && Int(response.headers[.retryAfter] ?? "") == 900)
            app.clock.advance(by: 901)
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil,
                    json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#
                ).status == .ok)
            // Probing for existing accounts through registration counts too.
            for _ in 0..<3 {
                #expect(
                    try await client.call(
                        .post, "/v1/auth/register", key: nil,
                        json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#
                    ).status == .accepted)
            }
            // Per address: many accounts tried from one place (the earlier failures aged out above;
            // ada's registration probes count as one account): the twentieth distinct one blocks.
            for index in 0..<19 {
                _ = try await client.call(
                    .post, "/v1/auth/login", key: nil,
                    json: #"{"email":"user\#(index)@example.com","password":"guessing guess"}"#)
            }
            let blocked = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"fresh@example.com","password":"guessing guess"}"#)
            #expect(blocked.status == .tooManyRequests && blocked.json.errorCode == "TOO_MANY_ATTEMPTS")
            let blockedRegistration = try await client.call(
                .post, "/v1/auth/register", key: nil,
                json: #"{"email":"new@example.com","password":"\#(Self.password)"}"#)
            #expect(blockedRegistration.status == .tooManyRequests)
        }
    }

    @Test(arguments: TestDatabase.all)
    func passwordResetIsSingleUseAndSignsEverythingOut(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let user = try await Self.signUp(app, client, email: "ada@example.com")
            let unknown = try await client.call(
                .post, "/v1/auth/password-reset", key: nil, json: #"{"email":"nobody@example.com"}"#)
            let known = try await client.call(
                .post, "/v1/auth/password-reset", key: nil, json: #"{"email":"ada@example.com"}"#)
            #expect(
                unknown.status == .accepted && known.status == .accepted
                    && unknown.json.string("status") == known.json.string("status"))
            #expect(try await app.store.outboxMessages(recipient: "nobody@example.com").isEmpty)
            let token = try await Self.emailToken(app.store, "ada@example.com", kind: "email.reset_password")
            let weak = try await client.call(
                .post, "/v1/auth/password-reset/confirm", key: nil,
                json: #"{"token":"\#(token)","password":"password123"}"#)
            #expect(
                weak.status == .badRequest && weak.json.errorCode == "WEAK_PASSWORD"
                    && weak.json.errorField == "password")
            // A weak password does not spend the link.
            let fresh = token
            #expect(
                try await client.call(
                    .post, "/v1/auth/password-reset/confirm", key: nil,
                    json: #"{"token":"\#(fresh)","password":"a brand new passphrase"}"#
                ).status == .ok)
            #expect(
                try await client.call(
                    .post, "/v1/auth/password-reset/confirm", key: nil,
                    json: #"{"token":"\#(fresh)","password":"another new passphrase"}"#
                ).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/me", key: user.access).status == .unauthorized)
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil,
                    json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#
                ).status == .unauthorized)
            #expect(
                try await client.call(
                    .post, "/v1/auth/login", key: nil,
                    json: #"{"email":"ada@example.com","password":"a brand new passphrase"}"#
                ).status == .ok)
        }
    }

    @Test(arguments: TestDatabase.all)
    func sessionsAreListedAndRevocableByTheirOwnerOnly(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let ada = try await Self.signUp(app, client, email: "ada@example.com")
            let laptop = try await client.call(
                .post, "/v1/auth/login", key: nil, json: #"{"email":"ada@example.com","password":"\#(Self.password)"}"#)
            let laptopAccess = try #require(laptop.json.string("accessToken"))
            let bob = try await Self.signUp(app, client, email: "bob@example.com")
            let listed = try #require(
                try await client.call(.get, "/v1/me/sessions", key: ada.access).json["data"] as? [[String: Any]])
            #expect(listed.count == 2 && listed.filter { $0["current"] as? Bool == true }.count == 1)
            let laptopSession = try #require(listed.first { $0["current"] as? Bool == false }?["id"] as? String)
            let bobsTry = try await client.call(.delete, "/v1/me/sessions/\(laptopSession)", key: bob.access)
            #expect(bobsTry.status == .notFound)
            #expect(try await client.call(.get, "/v1/me", key: laptopAccess).status == .ok)
            #expect(try await client.call(.delete, "/v1/me/sessions/\(laptopSession)", key: ada.access).status == .ok)
            #expect(try await client.call(.get, "/v1/me", key: laptopAccess).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/me", key: ada.access).status == .ok)
        }
    }

    @Test func badAccountInputNamesTheField() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let cases: [(String, String, HTTPResponse.Status, String, String?)] = [
                ("/v1/auth/register", #"{"email":"ada@example.com"}"#, .badRequest, "MISSING_FIELD", "password"),
                (
                    "/v1/auth/register", #"{"email":"not an email","password":"correct horse battery"}"#, .badRequest,
                    "INVALID_FIELD", "email"
                ),
                (
                    "/v1/auth/register", #"{"email":"ada@example.com","password":"short"}"#, .badRequest,
                    "WEAK_PASSWORD", "password"
                ),
                (
                    "/v1/auth/register",
                    #"{"email":"ada@example.com","password":"\#(String(repeating: "x", count: 80))y"}"#, .badRequest,
                    "WEAK_PASSWORD", "password"
                ),
                (
                    "/v1/auth/register", #"{"email":"ada@example.com","password":7}"#, .badRequest, "INVALID_FIELD",
                    "password"
                ),
                ("/v1/auth/login", #"{"password":"x"}"#, .badRequest, "MISSING_FIELD", "email"),
                ("/v1/auth/login", "{nope", .badRequest, "INVALID_JSON", nil),
                ("/v1/auth/refresh", #"{"refreshToken":""}"#, .badRequest, "INVALID_FIELD", "refreshToken"),
                (
                    "/v1/auth/refresh", #"{"refreshToken":"tg_rt_unknown"}"#, .unauthorized, "INVALID_TOKEN",
                    "refreshToken"
                ),
                ("/v1/auth/verify-email", "{}", .badRequest, "MISSING_FIELD", "token"),
                ("/v1/auth/password-reset", #"{"email":"bad"}"#, .badRequest, "INVALID_FIELD", "email"),
                (
                    "/v1/auth/password-reset/confirm", #"{"token":"nope","password":"a fine passphrase"}"#,
                    .unauthorized, "INVALID_TOKEN", "token"
                ),
            ]
            for (path, body, status, code, field) in cases {
                let (actual, json) = try await client.call(.post, path, key: nil, json: body)
                #expect(
                    actual == status && json.errorCode == code && json.errorField == field, "\(path) \(body): \(json)")
            }
            #expect(try await app.store.user(email: "ada@example.com") == nil)
            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/me"), (.get, "/v1/me/sessions"), (.post, "/v1/me/2fa/totp"),
                (.post, "/v1/auth/logout"),
            ] {
                let (status, json) = try await client.call(method, path, key: "not.a.jwt", json: "{}")
                #expect(status == .unauthorized && json.errorCode == "UNAUTHORIZED", "\(path)")
            }
        }
    }
}

/// Self-service: the user's name and language, and a password change that
/// needs the current password and signs the other sessions out.
@Suite struct ProfileTests {
    @Test(arguments: TestDatabase.all)
    func aUserSetsTheirNameLanguageAndPassword(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let ada = try await AccountTests.signUp(app, client, email: "ada@example.com")
            let laptop = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@example.com","password":"\#(AccountTests.password)"}"#)
            let other = try #require(laptop.json.string("accessToken"))

            let named = try await client.call(
                .patch, "/v1/me", key: ada.access, json: #"{"name":"Ada L.","locale":"fr"}"#)
            #expect(named.status == .ok && named.json.string("name") == "Ada L." && named.json.string("locale") == "fr")
            let kept = try await client.call(.patch, "/v1/me", key: ada.access, json: #"{"name":"Ada Lovelace"}"#)
            #expect(kept.json.string("locale") == "fr", "a field left out stays")
            #expect(try await app.store.customer(id: ada.id)?.locale == "fr")
            let bad = try await client.call(.patch, "/v1/me", key: ada.access, json: #"{"locale":"de"}"#)
            #expect(bad.status == .badRequest && bad.json.errorField == "locale")
            let blank = try await client.call(.patch, "/v1/me", key: ada.access, json: #"{"name":"   "}"#)
            #expect(blank.status == .badRequest && blank.json.errorField == "name")

            let wrong = try await client.call(
                .post, "/v1/me/password", key: ada.access,
                json: #"{"currentPassword":"not mine at all","newPassword":"a new long passphrase 9"}"#)
            #expect(wrong.status == .unauthorized && wrong.json.errorField == "currentPassword")
            let weak = try await client.call(
                .post, "/v1/me/password", key: ada.access,
                json: #"{"currentPassword":"\#(AccountTests.password)","newPassword":"short"}"#)
            #expect(weak.status == .badRequest && weak.json.errorField == "newPassword")
            let changed = try await client.call(
                .post, "/v1/me/password", key: ada.access,
                json: #"{"currentPassword":"\#(AccountTests.password)","newPassword":"a new long passphrase 9"}"#)
            #expect(changed.status == .ok)
            #expect(try await client.call(.get, "/v1/me", key: ada.access).status == .ok, "this session stays")
            #expect(try await client.call(.get, "/v1/me", key: other).status == .unauthorized, "the others end")
            let old = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@example.com","password":"\#(AccountTests.password)"}"#)
            #expect(old.status == .unauthorized)
            let new = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@example.com","password":"a new long passphrase 9"}"#)
            #expect(new.status == .ok)
        }
    }
}

/// The right of access: everything about the user in one document, and nothing
/// about anyone else.
@Suite struct PersonalDataExportTests {
    @Test(arguments: TestDatabase.all)
    func theExportHoldsTheUsersRowsAndNoOneElses(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let ada = try await AccountTests.signUp(app, client, email: "ada@example.com")
            let bob = try await AccountTests.signUp(app, client, email: "bob@example.com")
            for (user, count) in [(ada, 3), (bob, 1)] {
                for index in 0..<count {
                    let consumed = try await client.call(
                        .post, "/v1/consume", key: app.adminKey,
                        json: #"{"customer":"\#(user.id)","feature":"starter","idempotencyKey":"k\#(index)"}"#)
                    #expect(consumed.status == .ok)
                }
            }
            let grant = #"{"amount":40,"reason":"grant","idempotencyKey":"g1"}"#
            #expect(
                try await client.call(.post, "/v1/customers/\(ada.id)/credits/grants", key: app.adminKey, json: grant)
                    .status == .created)
            let workspace = try await client.call(
                .post, "/v1/workspaces", key: ada.access, json: #"{"name":"Atelier"}"#)
            #expect(workspace.status == .created)

            let export = try await client.call(.get, "/v1/me/export", key: ada.access)
            #expect(export.status == .ok)
            #expect((export.json["user"] as? [String: Any])?["email"] as? String == "ada@example.com")
            #expect((export.json["sessions"] as? [Any])?.count == 1)
            #expect((export.json["workspaces"] as? [[String: Any]])?.first?["role"] as? String == "OWNER")
            let usage = export.json["usage"] as? [[String: Any]] ?? []
            #expect(usage.first { $0["feature"] as? String == "starter" }?["used"] as? Int == 3)
            let credits = export.json["credits"] as? [[String: Any]] ?? []
            #expect(credits.first?["balance"] as? Int == 40 && (credits.first?["ledger"] as? [Any])?.count == 1)
            let text = "\(export.json)"
            #expect(!text.contains("bob@example.com") && !text.contains(bob.id), "nothing about another user")
            #expect(try await client.call(.get, "/v1/me/export", key: app.adminKey).status == .unauthorized)
        }
    }
}

/// The right to erasure: the person goes, the books stay.
@Suite struct ErasureTests {
    @Test(arguments: TestDatabase.all)
    func erasureFreesTheAddressAndKeepsInvoicesAndTheLedger(database: TestDatabase) async throws {
        try await AppHarness.run(database, catalog: try WorkspaceTests.memento) { app, client in
            // Ada is a member of the owner's workspace, and owns one of her own with the owner in it.
            let owner = try await WorkspaceTests.person(app, client, "owner")
            let shared = try await WorkspaceTests.createWorkspace(client, owner, plan: "business", app: app)
            let ada = try await WorkspaceTests.join(
                client, app, workspace: shared, owner: owner, name: "ada", role: "MEMBER")
            let mine = try await WorkspaceTests.createWorkspace(client, ada, plan: "business", app: app)
            let token = try await WorkspaceTests.invite(
                client, app, workspace: mine, by: ada, email: "owner@example.com", role: "VIEWER")
            #expect(
                try await client.call(.post, "/v1/workspaces/\(mine)/invitations/\(token)", key: owner.access).status
                    == .ok)
            #expect(try await client.call(.patch, "/v1/me", key: ada.access, json: #"{"name":"Ada L."}"#).status == .ok)
            let grant = #"{"amount":40,"reason":"grant","idempotencyKey":"g1"}"#
            _ = try await client.call(.post, "/v1/customers/\(ada.id)/credits/grants", key: app.adminKey, json: grant)
            let debit = #"{"customer":"\#(ada.id)","amount":15,"idempotencyKey":"d1"}"#
            #expect(try await client.call(.post, "/v1/credits/debit", key: app.adminKey, json: debit).status == .ok)
            let item = #"{"description":"Setup","unitAmount":5000,"currency":"EUR","idempotencyKey":"setup"}"#
            _ = try await client.call(.post, "/v1/customers/\(ada.id)/invoice-items", key: app.adminKey, json: item)
            let draft = try await client.call(
                .post, "/v1/invoices", key: app.adminKey, json: #"{"customer":"\#(ada.id)"}"#)
            let invoiceId = try #require(draft.json.string("id"))
            let issued = try await client.call(.post, "/v1/invoices/\(invoiceId)/finalize", key: app.adminKey)

            let refused = try await client.call(.delete, "/v1/me", key: ada.access)
            #expect(refused.status == .conflict && "\(refused.json)".contains(mine), "her workspace goes first")
            let transferred = try await client.call(
                .post, "/v1/workspaces/\(mine)/transfer", key: ada.access, json: #"{"userId":"\#(owner.id)"}"#)
            #expect(transferred.status == .ok, "\(transferred.json)")
            let erased = try await client.call(.delete, "/v1/me", key: ada.access)
            #expect(erased.status == .ok && erased.json["erased"] as? Bool == true, "\(erased.json)")

            // The person is gone: no sign-in, no session, no address, no name, no membership.
            #expect(try await client.call(.get, "/v1/me", key: ada.access).status == .unauthorized)
            let login = try await client.call(
                .post, "/v1/auth/login", key: nil,
                json: #"{"email":"ada@example.com","password":"\#(AccountTests.password)"}"#)
            #expect(login.status == .unauthorized)
            let customer = try #require(try await app.store.customer(id: ada.id))
            #expect(customer.email == nil && customer.name == nil)
            #expect(try await app.store.user(email: "ada@example.com") == nil)
            #expect(try await app.store.role(workspaceId: shared, userId: ada.id) == nil)
            #expect(try await app.store.role(workspaceId: mine, userId: ada.id) == nil)
            #expect(try await app.store.sessions(userId: ada.id, now: app.clock.now()).isEmpty)
            #expect(try await app.store.outboxMessages(recipient: "ada@example.com").isEmpty)

            // The books stay: the invoice as issued, the ledger balanced.
            let invoice = try await client.call(.get, "/v1/invoices/\(invoiceId)", key: app.adminKey)
            #expect(invoice.json.string("number") == issued.json.string("number") && invoice.json.int("total") == 5000)
            let credits = try await client.call(.get, "/v1/customers/\(ada.id)/credits", key: app.adminKey)
            #expect((credits.json["balances"] as? [[String: Any]])?.first?["balance"] as? Int == 25)

            // The address is free for a new sign-up (a new account, not a notice to the old one).
            let again = try await AccountTests.signUp(app, client, email: "ada@example.com")
            #expect(again.id != ada.id)
            #expect(
                try await app.store.outboxMessages(recipient: "ada@example.com").allSatisfy {
                    $0.kind != "email.account_exists"
                })

            // The operator's route: the owner, alone in both workspaces now, is erased; a customer
            // that is no one is not found; a customer without an account loses address and name.
            let owning = try await client.call(.delete, "/v1/customers/\(owner.id)/personal-data", key: app.adminKey)
            #expect(owning.status == .ok, "\(owning.json)")
            #expect(try await app.store.user(email: "owner@example.com") == nil)
            let none = try await client.call(.delete, "/v1/customers/nobody/personal-data", key: app.adminKey)
            #expect(none.status == .notFound)
            let plain = try await client.call(
                .post, "/v1/customers", key: app.adminKey, json: #"{"id":"c9","email":"c9@example.com","name":"C9"}"#)
            #expect(plain.status == .created)
            let wiped = try await client.call(.delete, "/v1/customers/c9/personal-data", key: app.adminKey)
            let wipedCustomer = try await app.store.customer(id: "c9")
            #expect(wiped.status == .ok && wipedCustomer?.email == nil && wipedCustomer?.name == nil)
        }
    }
}
