import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import TollgateCore
import TollgateIdentity
import TollgateSQL
import TollgateStorage

@testable import TollgateServer

/// What an adversarial probe found, each held by the test that would have caught its
/// class (the escaping property test is in HTMLTests, the lanes of the outbox in
/// OutboxDeliveryTests, the sign-in guard in SignInGuardTests, the browser's view in the portal's
/// and console's browser tests).
@Suite struct SecurityFindingsTests {
    static let password = AccountTests.password

    /// Every single-use link of `kind` sent to `email`, oldest first.
    static func emailTokens(_ store: any Storage, _ email: String, kind: String) async throws -> [String] {
        try await store.outboxMessages(recipient: email).filter { $0.kind == kind }.map { message in
            let payload = try #require(
                try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: String])
            return try TestKeys.box.openToken(try #require(payload["sealedToken"]))
        }
    }

    static func login(
        _ client: some TestClientProtocol, _ email: String, password: String = password, totp: String? = nil
    )
        async throws -> (status: HTTPResponse.Status, json: [String: Any])
    {
        let code = totp.map { #","totp":"\#($0)""# } ?? ""
        return try await client.call(
            .post, "/v1/auth/login", key: nil, json: #"{"email":"\#(email)","password":"\#(password)"\#(code)}"#)
    }

    /// A draft invoice of one item for customer c1 (made unless `customerExists`).
    static func draft(_ client: some TestClientProtocol, key: String, amount: Int, customerExists: Bool = false)
        async throws -> String
    {
        if !customerExists { try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#) }
        let item = try await client.call(
            .post, "/v1/customers/c1/invoice-items", key: key,
            json: #"{"description":"Work","unitAmount":\#(amount),"currency":"EUR","idempotencyKey":"i\#(amount)"}"#)
        #expect(item.status == .created, "\(item.json)")
        let created = try await client.call(.post, "/v1/invoices", key: key, json: #"{"customer":"c1"}"#)
        return try #require(created.json.string("id"), "\(created.json)")
    }

    // MARK: Item 3

    /// A made-up `Authorization` header is no credential: it is counted against the address.
    @Test func anInvalidCredentialCountsAsNoneForTheAddressLimit() async throws {
        let catalog = try CatalogLoader.load(yaml: RateLimitTests.catalogYAML)
        try await AppHarness.run(.sqlite, catalog: catalog) { app, client in
            for header in ["x", "Bearer junk", "Bearer tg_sk_0000", "Basic YTpi"] {
                var headers: HTTPFields = [.contentType: "application/json"]
                headers[.authorization] = header
                let answer = try await client.send(uri: "/v1/catalog", method: .get, headers: headers)
                #expect(answer.headers[RateLimitMiddleware.policyField] == #""ip";q=3;w=60"#, "\(header)")
            }
            let register = try await client.call(
                .post, "/v1/auth/register", key: "junk", json: #"{"email":"a@example.com","password":"x"}"#)
            #expect(register.status == .tooManyRequests, "the fifth call from the address, a registration")
            // A live key lifts nothing on a route that needs no credential.
            let keyedSignUp = try await client.call(
                .post, "/v1/auth/register", key: app.adminKey, json: #"{"email":"a@example.com","password":"x"}"#)
            #expect(keyedSignUp.status == .tooManyRequests)
            // A live key is a credential: its own bucket, not the address's.
            let keyed = try await RateLimitTests.send(client, .get, "/v1/customers", key: app.adminKey)
            #expect(keyed.status == .ok && keyed.headers[RateLimitMiddleware.policyField] == #""key";q=5;w=60"#)
        }
    }

    // MARK: Items 4, 5, 6

    /// Someone registers another person's address: until it is verified the account may not set
    /// up a second factor, join a workspace, or use the API beyond reading itself; the owner's
    /// reset clears what the squatter set up.
    @Test(arguments: TestDatabase.all)
    func anUnverifiedAccountCannotSquatTheAddress(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let squatter = try await AccountTests.signUp(app, client, email: "victim@example.com", verified: false)
            #expect(try await client.call(.get, "/v1/me", key: squatter.access).status == .ok)
            for (method, path) in [
                (HTTPRequest.Method.post, "/v1/me/2fa/totp"), (.get, "/v1/me/entitlements"), (.post, "/v1/workspaces"),
                (.patch, "/v1/me"),
            ] {
                let refused = try await client.call(
                    method, path, key: squatter.access, json: method == .get ? nil : #"{"name":"x"}"#)
                #expect(refused.status == .forbidden && refused.json.errorCode == "EMAIL_NOT_VERIFIED", "\(path)")
            }
            // The portal shows an unverified account its pages, and takes no form but signing out.
            let portal = try await PageSession.portal(client, email: "victim@example.com")
            let (shown, _, _) = try await portal.get(client, "/portal/security")
            #expect(shown == .ok)
            let (refused, page, _) = try await portal.post(
                client, "/portal/email", [("email", "squatter@example.com"), ("password", Self.password)])
            #expect(refused == .forbidden && page.contains("Confirm your e-mail address first"))
            // Set up before this rule existed: a second factor on the unverified account.
            let user = try #require(try await app.store.user(email: "victim@example.com"))
            try await app.store.setPendingTOTP(
                userId: user.id, sealedSecret: try TestKeys.box.seal(TOTP.generateSecret()), at: app.clock.now())
            try await app.store.enableTOTP(
                userId: user.id, step: 1, recoveryCodeHashes: [], at: app.clock.now(), outbox: [])
            #expect(try await Self.login(client, "victim@example.com").json.errorCode == "TOTP_REQUIRED")
            // The owner of the mailbox resets the password: the address is theirs, the factor gone.
            try await client.call(.post, "/v1/auth/password-reset", key: nil, json: #"{"email":"victim@example.com"}"#)
            let token = try await AccountTests.emailToken(app.store, "victim@example.com", kind: "email.reset_password")
            let reset = try await client.call(
                .post, "/v1/auth/password-reset/confirm", key: nil,
                json: #"{"token":"\#(token)","password":"the owner's own passphrase"}"#)
            #expect(reset.status == .ok, "\(reset.json)")
            let owner = try await Self.login(client, "victim@example.com", password: "the owner's own passphrase")
            #expect(owner.status == .ok, "no second factor stands in the way: \(owner.json)")
            let access = try #require(owner.json.string("accessToken"))
            #expect(try await client.call(.get, "/v1/me/entitlements", key: access).status == .ok, "verified")
            #expect(try await client.call(.get, "/v1/me", key: squatter.access).status == .unauthorized)
        }
    }

    /// A password change, a reset and an e-mail change each end every reset link of the account;
    /// a reset lifts the sign-in lock.
    @Test(arguments: TestDatabase.all)
    func resetLinksDieWithAPasswordChangeAndAResetLiftsTheLock(database: TestDatabase) async throws {
        try await AppHarness.run(database) { app, client in
            let ada = try await AccountTests.signUp(app, client, email: "ada@example.com")
            // A second apart, so the links are told apart by their time.
            func requestReset() async throws {
                app.clock.advance(by: 1)
                try await client.call(.post, "/v1/auth/password-reset", key: nil, json: #"{"email":"ada@example.com"}"#)
            }
            func confirm(_ token: String, _ password: String) async throws -> HTTPResponse.Status {
                try await client.call(
                    .post, "/v1/auth/password-reset/confirm", key: nil,
                    json: #"{"token":"\#(token)","password":"\#(password)"}"#
                ).status
            }
            try await requestReset()
            let changed = try await client.call(
                .post, "/v1/me/password", key: ada.access,
                json: #"{"currentPassword":"\#(Self.password)","newPassword":"a second passphrase here"}"#)
            #expect(changed.status == .ok, "\(changed.json)")
            let beforeChange = try #require(
                try await Self.emailTokens(app.store, "ada@example.com", kind: "email.reset_password").last)
            #expect(try await confirm(beforeChange, "an attacker's passphrase") == .unauthorized)

            try await requestReset()
            try await requestReset()
            let pair = try await Self.emailTokens(app.store, "ada@example.com", kind: "email.reset_password").suffix(2)
            #expect(try await confirm(try #require(pair.first), "a third passphrase here") == .ok)
            #expect(try await confirm(try #require(pair.last), "a fourth passphrase here") == .unauthorized)

            // Six wrong passwords lock the account; the e-mailed reset is the way out.
            for _ in 0..<6 { _ = try await Self.login(client, "ada@example.com", password: "wrong wrong wrong") }
            #expect(
                try await Self.login(client, "ada@example.com", password: "a third passphrase here").status
                    == .tooManyRequests)
            try await requestReset()
            let unlock = try #require(
                try await Self.emailTokens(app.store, "ada@example.com", kind: "email.reset_password").last)
            #expect(try await confirm(unlock, "a fifth passphrase here") == .ok)
            #expect(try await Self.login(client, "ada@example.com", password: "a fifth passphrase here").status == .ok)
        }
    }

    // MARK: Item 7

    /// A locked account costs no password hash to anyone without its authenticator's code, and
    /// hashing is bounded: beyond its queue, 503 at once.
    @Test func aLockedSignInHashesNothingAndHashingIsBounded() async throws {
        // A gate of the test's own, whose count no other test's sign-ins move.
        let hashing = BoundedWork(name: "password checks", width: 2, depth: 8)
        try await AppHarness.run(
            .sqlite, configure: { $0.passwordPolicy = PasswordPolicy(bcryptCost: 4, gate: hashing) }
        ) {
            app, client in
            _ = try await AccountTests.signUp(app, client, email: "ada@example.com")
            for _ in 0..<5 { _ = try await Self.login(client, "ada@example.com", password: "wrong wrong wrong") }
            let before = hashing.started
            for code in ["123456", "000000", "abcdef-ghijk", ""] {
                let locked = try await Self.login(client, "ada@example.com", password: "anything at all", totp: code)
                #expect(locked.status == .tooManyRequests && locked.json.errorCode == "TOO_MANY_ATTEMPTS")
            }
            #expect(hashing.started == before, "no bcrypt ran for a locked account")
        }
        // The gate: `width` run, `depth` wait, the next is refused with 503 at once.
        let gate = BoundedWork(name: "a test", width: 1, depth: 1)
        let (release, released) = AsyncStream.makeStream(of: Void.self)
        let (started, didStart) = AsyncStream.makeStream(of: Void.self)
        let running = Task {
            try await gate.run {
                didStart.yield()
                // Blocks its Dispatch thread until the test lets it go.
                let semaphore = DispatchSemaphore(value: 0)
                Task {
                    for await _ in release { break }; semaphore.signal()
                }
                semaphore.wait()
                return 1
            }
        }
        for await _ in started { break }
        let waiting = Task { try await gate.run { 2 } }
        while gate.waiting == 0 { await Task.yield() }
        do {
            _ = try await gate.run { 3 }
            Issue.record("a third piece of work was taken beyond the queue")
        } catch let error as DomainError {
            #expect(error.code == .unavailable && error.retryAfterSeconds == 1)
        }
        released.yield()
        let (first, second) = (try await running.value, try await waiting.value)
        #expect(first == 1 && second == 2)
        #expect(try await gate.run { 4 } == 4, "free again")
    }

    // MARK: Item 8

    /// A finalized invoice's PDF is rendered once and kept while the invoice is unchanged; a
    /// change renders it again.
    @Test func documentsAreRenderedOnceAndAgainWhenTheyChange() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let key = app.adminKey
            let id = try await Self.draft(client, key: key, amount: 1000)
            #expect(try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key).status == .ok)
            let documents = app.dependencies.documents
            // `execute`: the document's checker reads `{id}.pdf` as `{id}`.
            let first = try await client.execute(
                uri: "/v1/invoices/\(id).pdf", method: .get, headers: [.authorization: "Bearer \(key)"], body: nil)
            #expect(first.status == .ok && first.headers[.cacheControl] == "private, no-store")
            let rendered = documents.renders
            let again = try await client.execute(
                uri: "/v1/invoices/\(id).pdf", method: .get, headers: [.authorization: "Bearer \(key)"], body: nil)
            #expect(documents.renders == rendered, "kept, not rendered again")
            #expect(Data(again.body.readableBytesView) == Data(first.body.readableBytesView))
            #expect(try await client.call(.post, "/v1/invoices/\(id)/pay", key: key).status == .ok)
            _ = try await client.execute(
                uri: "/v1/invoices/\(id).pdf", method: .get, headers: [.authorization: "Bearer \(key)"], body: nil)
            #expect(documents.renders == rendered + 1, "a paid invoice is drawn anew")
        }
    }

    // MARK: Item 9

    /// The export holds the subject's own data only; after erasure, the address is in no table.
    @Test(arguments: TestDatabase.all)
    func theExportIsTheSubjectsAndErasureLeavesTheAddressNowhere(database: TestDatabase) async throws {
        try await AppHarness.run(database, configure: WebhookTests.allowPrivate) { app, client in
            let key = app.adminKey
            try await client.call(
                .post, "/v1/webhook-endpoints", key: key, json: #"{"url":"http://127.0.0.1:9/hook"}"#)
            let owner = try await WorkspaceTests.person(app, client, "owner")
            let created = try await client.call(.post, "/v1/workspaces", key: owner.access, json: #"{"name":"Team"}"#)
            let workspace = try #require(created.json.string("id"))
            let member = try await WorkspaceTests.join(
                client, app, workspace: workspace, owner: owner, name: "member", role: "MEMBER")
            // The owner acts on the member (an audit entry naming the member as target).
            try await client.call(
                .patch, "/v1/workspaces/\(workspace)/members/\(member.id)", key: owner.access,
                json: #"{"role":"VIEWER"}"#, headers: [.userAgent: "OwnerBrowser/1.0"])
            let export = try await client.call(.get, "/v1/me/export", key: member.access)
            let events = try #require(export.json["auditEvents"] as? [[String: Any]])
            let others = events.filter { ($0["actor"] as? [String: Any])?["id"] as? String != member.id }
            #expect(!others.isEmpty, "the owner's change is in the member's export")
            for event in others {
                #expect((event["actor"] as? [String: Any])?["id"] is NSNull, "\(event)")
                #expect(event["ip"] is NSNull && event["userAgent"] is NSNull, "\(event)")
            }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: export.json), as: UTF8.self)
            #expect(!text.contains("OwnerBrowser"), "no one else's browser")

            // Tracked events and failed sign-ins that carry the member's address, then erasure.
            let address = "member@example.com"
            try await client.call(
                .post, "/v1/track", key: key,
                json: """
                    {"events":[{"customer":"\(member.id)","event":"signed_up","idempotencyKey":"t1",
                     "properties":{"email":"\(address)"}}]}
                    """)
            _ = try await Self.login(client, address, password: "wrong wrong wrong")
            try await client.call(.post, "/v1/auth/password-reset", key: nil, json: #"{"email":"\#(address)"}"#)
            #expect(try await client.call(.delete, "/v1/me", key: member.access).status == .ok)
            let found = try await #require(app.store as? SQLStore).tablesHolding(address)
            #expect(found.isEmpty, "the address survives in \(found)")
        }
    }

    // MARK: Item 12

    /// A form over 64 KiB is 413 on every page that reads one, before or after signing in.
    @Test func formsOverTheLimitAre413() async throws {
        try await AppHarness.run(.sqlite) { _, client in
            let body = ByteBuffer(string: "email=a%40example.com&password=" + String(repeating: "x", count: 70_000))
            for path in [
                "/portal/login", "/portal/signup", "/portal/reset-password/request", "/portal/reset-password",
                "/portal/verify-email", "/console/login", "/console/setup",
            ] {
                let answer = try await client.send(
                    uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: body)
                #expect(answer.status == .contentTooLarge, "\(path): \(answer.status)")
            }
        }
    }

    // MARK: Item 13

    /// One rule for every name a person reads, whichever door it comes in by.
    @Test func namesFollowOneRuleAtEveryDoor() async throws {
        for bad in ["a\r\nb", "a\u{0}c", "esc\u{1B}[31m", "   ", "\u{202E}evil", "line\u{2028}break"] {
            #expect(throws: DomainError.self) { try DisplayName.validated(bad) }
        }
        #expect(try DisplayName.validated("  Ada Lovelace ") == "Ada Lovelace")
        #expect(try DisplayName.validated("Zoë 👩‍💻 \u{600}") == "Zoë 👩‍💻 \u{600}")
        #expect(throws: DomainError.self) {
            try DisplayName.validated(String(repeating: "a", count: 101), maximum: 100)
        }
        try await AppHarness.run(.sqlite) { app, client in
            let ada = try await AccountTests.signUp(app, client, email: "ada@example.com")
            for bad in [#"a\r\nb"#, #"a\u0000c"#, #"\u001b[31m"#] {
                let profile = try await client.call(.patch, "/v1/me", key: ada.access, json: #"{"name":"\#(bad)"}"#)
                #expect(profile.status == .badRequest && profile.json.errorField == "name", "\(bad)")
                let customer = try await client.call(
                    .post, "/v1/customers", key: app.adminKey, json: #"{"id":"c-\#(bad.count)","name":"\#(bad)"}"#)
                #expect(customer.status == .badRequest && customer.json.errorField == "name", "\(bad)")
                let workspace = try await client.call(
                    .post, "/v1/workspaces", key: ada.access, json: #"{"name":"\#(bad)"}"#)
                #expect(workspace.status == .badRequest && workspace.json.errorField == "name", "\(bad)")
                let apiKey = try await client.call(
                    .post, "/v1/api-keys", key: app.adminKey, json: #"{"name":"\#(bad)","scopes":["admin"]}"#)
                #expect(apiKey.status == .badRequest && apiKey.json.errorField == "name", "\(bad): \(apiKey.json)")
            }
            #expect(try await app.store.customer(id: "c-6") == nil, "nothing written")
        }
    }

    // MARK: Item 15

    /// Real currencies only, checked tax numbers where python-stdnum knows the country, and no
    /// invoice that owes the customer money.
    @Test func moneyAndTaxInputsAreReal() async throws {
        #expect(Currency("ZZZ") == nil && Currency("eur")?.code == "EUR" && Currency("XTS") != nil)
        #expect(VATNumber.validated("GB123456789", country: "GB") == nil)
        #expect(VATNumber.validated("GB980780684", country: "GB") == "GB980780684")
        #expect(VATNumber.validated("CHE-113.553.044 MWST", country: "CH") == nil)
        #expect(VATNumber.validated("NO 995 525 828 MVA", country: "NO") == "NO995525828MVA")
        try await AppHarness.run(.sqlite) { app, client in
            let key = app.adminKey
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            let fake = try await client.call(
                .post, "/v1/customers/c1/invoice-items", key: key,
                json: #"{"description":"Work","unitAmount":1000,"currency":"ZZZ","idempotencyKey":"z1"}"#)
            #expect(fake.status == .badRequest && fake.json.errorField == "currency", "\(fake.json)")
            let details = try await client.call(
                .put, "/v1/customers/c1/billing-details", key: key,
                json: """
                    {"legalName":"Acme Ltd","addressLines":["1 High St"],"postalCode":"EC1A 1BB","city":"London",
                     "country":"GB","vatNumber":"GB123456789"}
                    """)
            #expect(details.status == .badRequest && details.json.errorField == "vatNumber", "\(details.json)")
            let id = try await Self.draft(client, key: key, amount: -6000, customerExists: true)
            let finalized = try await client.call(.post, "/v1/invoices/\(id)/finalize", key: key)
            #expect(finalized.status == .conflict, "\(finalized.json)")
            let invoice = try await client.call(.get, "/v1/invoices/\(id)", key: key)
            #expect(invoice.json.string("status") == "draft")
        }
    }

    // MARK: Item 16

    /// Every HTML page answers with a policy and no framing; a document with no-store; with an
    /// https public address, every cookie is Secure (the language's included).
    @Test func pagesDocumentsAndCookiesCarryTheirHeaders() async throws {
        try await AppHarness.run(.sqlite, configure: { $0.consoleBaseURL = "https://billing.example.com" }) {
            _, client in
            for path in ["/", "/docs", "/pricing", "/portal/login", "/console/login"] {
                let page = try await client.send(uri: path, method: .get)
                #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(path)")
                #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
            }
            let french = try await client.send(uri: "/pricing?lang=fr", method: .get)
            let cookies = french.headers[values: .setCookie]
            #expect(cookies.contains { $0.hasPrefix("tg_lang=fr") }, "\(cookies)")
            #expect(cookies.allSatisfy { SecurityHeadersMiddleware<TollgateRequestContext>.isSecure($0) }, "\(cookies)")
        }
    }

    // MARK: Item 17

    /// A key minted through the API draws from its maker's bucket: minting adds no requests.
    @Test func mintedKeysShareTheirMakersBucket() async throws {
        let catalog = try CatalogLoader.load(yaml: RateLimitTests.catalogYAML)
        try await AppHarness.run(.sqlite, catalog: catalog) { app, client in
            var keys = [app.adminKey]
            for index in 0..<2 {
                let minted = try await client.call(
                    .post, "/v1/api-keys", key: keys.last, json: #"{"name":"minted \#(index)","scopes":["admin"]}"#)
                keys.append(try #require(minted.json.string("secret"), "\(minted.json)"))
            }
            // Two calls spent minting; three left for the three keys together.
            var allowed = 0
            for _ in 0..<3 {
                for key in keys {
                    let answer = try await RateLimitTests.send(client, .get, "/v1/customers", key: key)
                    if answer.status == .ok { allowed += 1 }
                }
            }
            #expect(allowed == 3, "\(allowed) calls passed across the minted keys")
        }
    }
}
