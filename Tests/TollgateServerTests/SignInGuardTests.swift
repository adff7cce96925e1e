import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import TollgateServer

/// Login CSRF: a sign-in form posted from another site (without the page's `SameSite=Strict`
/// cookie, or with a value that does not match it) signs nobody in, even with right credentials.
@Suite struct SignInGuardTests {
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    @Test func aGuardValueIsTheServersForItsFormAndAnHour() {
        let guardValue = SignInGuard(path: "/portal/login", secure: false, box: TestKeys.box)
        let now = Date()
        let (token, _) = guardValue.issue(at: now)
        func request(cookie: String) -> Request {
            Request(
                head: .init(
                    method: .post, scheme: "http", authority: "x", path: "/portal/login",
                    headerFields: [.cookie: "\(SignInGuard.cookieName)=\(cookie)"]),
                body: .init(buffer: ByteBuffer()))
        }
        let form = FormFields("\(SignInGuard.field)=\(token)")
        #expect(guardValue.accepted(request(cookie: token), form: form, at: now.addingTimeInterval(3599)) == token)
        #expect(
            guardValue.accepted(request(cookie: token), form: form, at: now.addingTimeInterval(3601)) == nil,
            "an hour old")
        let console = SignInGuard(path: "/console/login", secure: false, box: TestKeys.box)
        #expect(console.accepted(request(cookie: token), form: form, at: now) == nil, "made for the other form")
        #expect(guardValue.accepted(request(cookie: token + "x"), form: form, at: now) == nil, "they differ")
    }

    @Test func aSignInFormFromElsewhereSignsNobodyIn() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            try await PortalTests.signUp(app, client, email: "ada@example.com")
            let credentials = [("email", "ada@example.com"), ("password", AccountTests.password)]
            // Another site's form: no cookie at all.
            let forged = try await client.send(
                uri: "/portal/login", method: .post, headers: Self.form,
                body: ByteBuffer(string: PageSession.encode([("signin", "0123abcd")] + credentials)))
            #expect(forged.status == .badRequest)
            #expect(!(forged.headers[.setCookie] ?? "").contains("tg_portal="), "no session")
            #expect(String(buffer: forged.body).contains(#"name="signin""#), "a fresh form to sign in here")
            // A cookie from one page and the value of another.
            let first = try await client.send(uri: "/portal/login", method: .get)
            let cookie = String(try #require(first.headers[.setCookie]?.split(separator: ";").first))
            let mismatched = try await client.send(
                uri: "/portal/login", method: .post, headers: Self.form.merging([.cookie: cookie]),
                body: ByteBuffer(string: PageSession.encode([("signin", "0123abcd")] + credentials)))
            #expect(mismatched.status == .badRequest)
            // A cookie planted by a sibling site with a value of its own, and the same value in the
            // form: equal, but not a value this server made.
            for planted in ["0123abcd", "0123abcd.\(Int(Date().timeIntervalSince1970)).00", ""] {
                let forgedPair = try await client.send(
                    uri: "/portal/login", method: .post,
                    headers: Self.form.merging([.cookie: "tg_signin=\(planted)"]),
                    body: ByteBuffer(string: PageSession.encode([("signin", planted)] + credentials)))
                #expect(forgedPair.status == .badRequest, "\(planted)")
                #expect(!(forgedPair.headers[.setCookie] ?? "").contains("tg_portal="), "no session")
            }
            // A value made for the console's form does not pass the portal's.
            let consolePage = try await client.send(uri: "/console/login", method: .get)
            let consoleValue = String(
                try #require(consolePage.headers[.setCookie]?.split(separator: ";").first?.split(separator: "=").last))
            let crossed = try await client.send(
                uri: "/portal/login", method: .post, headers: Self.form.merging([.cookie: "tg_signin=\(consoleValue)"]),
                body: ByteBuffer(string: PageSession.encode([("signin", consoleValue)] + credentials)))
            #expect(crossed.status == .badRequest)
            // The page's own form signs in.
            let signedIn = try await PageSession.signIn(client, path: "/portal/login", credentials)
            #expect(signedIn.status == .seeOther && (signedIn.headers[.setCookie] ?? "").contains("tg_portal="))
            // The console's form is guarded the same way.
            let console = try await client.send(
                uri: "/console/login", method: .post, headers: Self.form,
                body: ByteBuffer(string: PageSession.encode(credentials + [("code", "123456")])))
            #expect(console.status == .badRequest && String(buffer: console.body).contains(#"name="signin""#))
        }
    }
}

extension HTTPFields {
    fileprivate func merging(_ other: HTTPFields) -> HTTPFields {
        var all = self
        all.append(contentsOf: other)
        return all
    }
}
