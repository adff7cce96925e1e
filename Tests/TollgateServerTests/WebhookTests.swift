import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport
import Testing
import TollgateCore
import TollgateNotify
import TollgateStorage

@testable import TollgateServer

/// Quota alerts and webhooks end to end: quota alerts reach a receiver that checks signatures with the
/// `standardwebhooks` package, through failures, a secret rotation, a replay and a 410; and the
/// customer gets the alert e-mails. The delivery is driven pass by pass on the test's clock.
@Suite(.serialized) struct WebhookTests {
    /// Keeps the mail it is given.
    final class MailCapture: MailTransport {
        let sent = Mutex<[MailMessage]>([])
        var destination: String { "the test" }
        func send(_ message: MailMessage) async throws { sent.withLock { $0.append(message) } }
    }

    /// The Python receiver: configure it, read what it received.
    struct Receiver {
        let port: Int

        func configure(secrets: [String], statuses: [Int] = []) async throws {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_config")
            request.method = .POST
            let body = try JSONSerialization.data(withJSONObject: ["secrets": secrets, "statuses": statuses])
            request.body = .bytes(ByteBuffer(bytes: body))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        }

        /// Signatures are checked against `date` (the test's clock) from now on.
        func checkSignatures(at date: Date) async throws {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_config")
            request.method = .POST
            let body = try JSONSerialization.data(withJSONObject: ["now": date.timeIntervalSince1970])
            request.body = .bytes(ByteBuffer(bytes: body))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        }

        func received() async throws -> [[String: Any]] {
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/_received"), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 10 << 20)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            return json?["data"] as? [[String: Any]] ?? []
        }
    }

    /// The client the server sends webhooks with (redirects not followed), for the tests' lifetime.
    static let client = WebhookSender.makeClient()

    static func delivery(_ app: AppHarness, mail: MailCapture) throws -> OutboxDelivery {
        let dependencies = app.dependencies
        return OutboxDelivery(
            store: app.store, transport: mail,
            renderer: MessageRenderer(
                settings: MailSettings(
                    productName: "Test", from: "Test <no-reply@test.example>",
                    linkBase: URL(string: "https://app.test.example")!, catalog: app.dependencies.catalog),
                box: dependencies.secretBox, templates: try MailTemplates.bundled()),
            fanOut: EventFanOut(store: app.store),
            webhooks: WebhookSender(
                store: app.store, box: dependencies.secretBox, client: Self.client, clock: app.clock,
                settings: dependencies.webhooks, logger: dependencies.logger),
            clock: app.clock, logger: dependencies.logger, random: { 0.5 })
    }

    static func allowPrivate(_ dependencies: inout AppDependencies) {
        dependencies.webhooks.policy = WebhookURLPolicy(allowPrivate: true)
    }

    @Test(arguments: TestDatabase.all)
    func alertsReachASignatureCheckingReceiverThroughFailuresRotationReplayAndGone(database: TestDatabase)
        async throws
    {
        let (process, port) = try await PeerProcess.startListening(
            script: Repository.path("Tests/peers/webhook_receiver.py"))
        defer { process.stop() }
        let receiver = Receiver(port: port)
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await AppHarness.run(database, clock: clock, configure: Self.allowPrivate) { app, client in
            let key = app.adminKey
            let created = try await client.call(
                .post, "/v1/webhook-endpoints", key: key,
                json: """
                    {"url":"http://127.0.0.1:\(port)/hook","description":"alerts",
                     "eventTypes":["usage.threshold_reached","usage.limit_reached"]}
                    """)
            #expect(created.status == .created)
            let secret = try #require(created.json.string("secret"))
            let endpointId = try #require(created.json.string("id"))
            #expect(secret.hasPrefix("whsec_") && created.json["enabled"] as? Bool == true)
            // A redirect is an answer, not an instruction: not followed, not a success.
            try await receiver.configure(secrets: [secret], statuses: [500, 302])

            try await client.call(
                .post, "/v1/customers", key: key, json: #"{"id":"c1","email":"c1@example.com"}"#)
            try await client.call(.put, "/v1/customers/c1/plan", key: key, json: #"{"plan":"pro"}"#)
            let consumed = try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":80,"idempotencyKey":"k80"}"#)
            #expect(consumed.json["allowed"] as? Bool == true)

            let mail = MailCapture()
            let delivery = try Self.delivery(app, mail: mail)
            // The receiver checks timestamps against this test's clock, however slow the run.
            let deliverDue = {
                try await receiver.checkSignatures(at: clock.now())
                return try await delivery.deliverDue()
            }
            #expect(try await deliverDue() == 3, "customer.created, customer.plan_changed, the alert")
            #expect(try await deliverDue() == 3, "the alert's webhook, its e-mail, the plan change's e-mail")
            #expect(try await deliverDue() == 0, "the webhook's retry is 5 s away")
            clock.advance(by: 5)
            #expect(try await deliverDue() == 1)
            clock.advance(by: 299)
            #expect(try await deliverDue() == 0, "the third attempt comes 5 minutes after the second")
            clock.advance(by: 1)
            #expect(try await deliverDue() == 1)

            var received = try await receiver.received()
            #expect(received.map { $0["answered"] as? Int } == [500, 302, 200])
            #expect(Set(received.compactMap { $0["id"] as? String }).count == 1, "one webhook-id for every attempt")
            #expect(received.allSatisfy { $0["verified"] as? [Bool] == [true] }, "standardwebhooks verifies each")
            let first = try #require(received.first)
            let messageId = try #require(first["id"] as? String)
            let event = try JSONSerialization.jsonObject(with: Data((first["body"] as? String ?? "").utf8))
            let body = try #require(event as? [String: Any])
            #expect(body["type"] as? String == "usage.threshold_reached")
            let data = try #require(body["data"] as? [String: Any])
            #expect(
                data["customerId"] as? String == "c1" && data["percent"] as? Int == 80 && data["used"] as? Int == 80)

            let messages = try await client.call(.get, "/v1/webhook-endpoints/\(endpointId)/messages", key: key)
            let listed = try #require((messages.json["data"] as? [[String: Any]])?.first)
            #expect(listed["status"] as? String == "delivered" && listed["attempts"] as? Int == 3)
            let attempts = try await client.call(.get, "/v1/webhook-messages/\(messageId)/attempts", key: key)
            let log = try #require(attempts.json["data"] as? [[String: Any]])
            #expect(log.map { $0["status"] as? Int } == [500, 302, 200])
            #expect(log.allSatisfy { ($0["response"] as? String)?.utf8.count == 1024 }, "the first KiB is kept")

            // A rotated secret: both sign for a day, so receivers holding either accept.
            let rotated = try await client.call(.post, "/v1/webhook-endpoints/\(endpointId)/rotate-secret", key: key)
            let newSecret = try #require(rotated.json.string("secret"))
            #expect(newSecret != secret && rotated.json.string("previousSecretExpiresAt") != nil)
            try await receiver.configure(secrets: [newSecret, secret])
            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":20,"idempotencyKey":"k100"}"#)
            #expect(try await deliverDue() == 1)
            #expect(try await deliverDue() == 2)
            received = try await receiver.received()
            #expect(received.count == 4 && received.last?["verified"] as? [Bool] == [true, true])
            #expect((received.last?["signature"] as? String)?.split(separator: " ").count == 2)
            #expect((received.last?["body"] as? String)?.contains("usage.limit_reached") == true)

            // A replay sends the same message again, same id and body.
            let replayed = try await client.call(.post, "/v1/webhook-messages/\(messageId)/replay", key: key)
            #expect(replayed.status == .accepted && replayed.json.string("status") == "pending")
            #expect(try await deliverDue() == 1)
            received = try await receiver.received()
            #expect(received.count == 5 && received.last?["id"] as? String == messageId)
            #expect(received.last?["body"] as? String == first["body"] as? String)

            // Next month re-arms the alerts; the endpoint answers 410 Gone and is disabled.
            try await receiver.configure(secrets: [newSecret], statuses: [410])
            clock.advance(by: 32 * 86_400)
            try await client.call(
                .post, "/v1/consume", key: key,
                json: #"{"customer":"c1","feature":"searches","amount":85,"idempotencyKey":"next-month"}"#)
            #expect(try await deliverDue() == 1)
            #expect(try await deliverDue() == 2)
            let gone = try await client.call(.get, "/v1/webhook-endpoints/\(endpointId)", key: key)
            #expect(gone.json["enabled"] as? Bool == false && gone.json.string("disabledReason") == "gone")
            #expect(try await receiver.received().count == 6)

            // The customer read of the plan change (the test catalog names plans by id), then
            // three alerts: 80 % and 100 % in the first month, 80 % in the next.
            let subjects = mail.sent.withLock { $0.filter { $0.to == "c1@example.com" }.map(\.subject) }
            #expect(
                subjects.sorted() == [
                    "You have reached your searches limit", "You have used 80 % of your searches quota",
                    "You have used 80 % of your searches quota", "Your Test plan is now pro",
                ])
            #expect(mail.sent.withLock { $0.allSatisfy { $0.unsubscribe != nil } })
            #expect(
                mail.sent.withLock { $0.allSatisfy { $0.messageID.filter { $0 == "@" }.count == 1 } },
                "a Message-ID has one @ (the reader's address is not in it)")
        }
    }

    /// An endpoint that fails for 5 days is disabled, and the operator is told by e-mail.
    @Test func anEndpointFailingForFiveDaysIsDisabledAndTheOperatorMailed() async throws {
        let clock = ManualClock(Fixtures.utc(2026, 5, 14))
        try await AppHarness.run(
            .sqlite, clock: clock,
            configure: { dependencies in
                dependencies.webhooks.policy = WebhookURLPolicy(allowPrivate: true)
                dependencies.webhooks.operatorEmail = "ops@example.com"
            }
        ) { app, client in
            let key = app.adminKey
            let (process, port) = try await PeerProcess.startListening(
                script: Repository.path("Tests/peers/webhook_receiver.py"))
            defer { process.stop() }
            try await Receiver(port: port).configure(secrets: [], statuses: [500, 503])
            let url = "http://127.0.0.1:\(port)/hook"
            let created = try await client.call(.post, "/v1/webhook-endpoints", key: key, json: #"{"url":"\#(url)"}"#)
            let id = try #require(created.json.string("id"))
            try await client.call(.post, "/v1/customers", key: key, json: #"{"id":"c1"}"#)
            let mail = MailCapture()
            let delivery = try Self.delivery(app, mail: mail)
            #expect(try await delivery.deliverDue() == 1, "customer.created")
            #expect(try await delivery.deliverDue() == 1, "its webhook, which fails")
            clock.advance(by: 5 * 86_400)
            #expect(try await delivery.deliverDue() == 1, "retried 5 days after the first failure: fails again")
            let endpoint = try await client.call(.get, "/v1/webhook-endpoints/\(id)", key: key)
            #expect(endpoint.json["enabled"] as? Bool == false && endpoint.json.string("disabledReason") == "failing")
            #expect(try await delivery.deliverDue() == 1, "the operator's mail")
            let told = mail.sent.withLock { $0.filter { $0.to == "ops@example.com" } }
            #expect(told.count == 1 && told.first?.text.contains(url) == true)
            #expect(told.first?.unsubscribe == nil, "operators' notices are not optional")
        }
    }

    @Test func endpointsMustBeHTTPSToPublicAddressesAndNameKnownEvents() async throws {
        try await AppHarness.run(.sqlite) { app, client in
            let key = app.adminKey
            for (url, reason) in [
                ("https://127.0.0.1/hook", "private address"), ("https://localhost/hook", "private address"),
                ("https://10.1.2.3/hook", "private address"), ("https://169.254.169.254/latest", "private address"),
                ("https://[::1]/hook", "private address"), ("http://93.184.215.14/hook", "https"),
                ("ftp://example.com/x", "https"), ("https://user:pw@example.com/", "credentials"),
                // IPv6 forms carrying loopback, and the documentation ranges.
                ("https://[::127.0.0.1]/hook", "private address"),
                ("https://[::ffff:127.0.0.1]/hook", "private address"),
                ("https://[::ffff:0:7f00:1]/hook", "private address"),
                ("https://[2002:7f00:1::]/hook", "private address"),
                ("https://[2001:0:4136:e378::1]/hook", "private address"),
                ("https://192.0.2.10/hook", "private address"),
                ("https://198.51.100.7/hook", "private address"), ("https://203.0.113.9/hook", "private address"),
                ("https://93.184.215.14:22/hook", "port 443"), ("https://93.184.215.14:6379/hook", "port 443"),
            ] {
                let refused = try await client.call(
                    .post, "/v1/webhook-endpoints", key: key, json: #"{"url":"\#(url)"}"#)
                #expect(refused.status == .badRequest && refused.json.errorField == "url", "\(url)")
                let message = (refused.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(reason), "\(url): \(message)")
            }
            let unknownType = try await client.call(
                .post, "/v1/webhook-endpoints", key: key,
                json: #"{"url":"https://93.184.215.14/hook","eventTypes":["usage.limit_reached","nope"]}"#)
            #expect(unknownType.status == .badRequest && unknownType.json.errorField == "eventTypes[1]")
            #expect(try await app.store.webhookEndpoints().isEmpty, "nothing written")

            let alternate = try await client.call(
                .post, "/v1/webhook-endpoints", key: key, json: #"{"url":"https://93.184.215.14:8443/hook"}"#)
            #expect(alternate.status == .created, "\(alternate.json)")
            let removed = try await client.send(
                uri: "/v1/webhook-endpoints/\(try #require(alternate.json.string("id")))", method: .delete,
                headers: [.authorization: "Bearer \(key)"])
            #expect(removed.status.code < 300)
            let created = try await client.call(
                .post, "/v1/webhook-endpoints", key: key, json: #"{"url":"https://93.184.215.14/hook"}"#)
            let id = try #require(created.json.string("id"))
            #expect(created.json["eventTypes"] as? [String] == [], "every type")
            let listed = try await client.call(.get, "/v1/webhook-endpoints", key: key)
            #expect((listed.json["data"] as? [[String: Any]])?.first?["secret"] == nil, "the secret is shown once")
            let disabled = try await client.call(
                .patch, "/v1/webhook-endpoints/\(id)", key: key, json: #"{"enabled":false,"description":"paused"}"#)
            #expect(disabled.json["enabled"] as? Bool == false && disabled.json.string("disabledReason") == "operator")
            #expect(disabled.json.string("description") == "paused")
            let moved = try await client.call(
                .patch, "/v1/webhook-endpoints/\(id)", key: key, json: #"{"url":"https://192.168.1.9/x"}"#)
            #expect(moved.status == .badRequest && moved.json.errorField == "url")
            let deleted = try await client.send(
                uri: "/v1/webhook-endpoints/\(id)", method: .delete, headers: [.authorization: "Bearer \(key)"])
            #expect(deleted.status == .noContent)
            let again = try await client.call(.get, "/v1/webhook-endpoints/\(id)", key: key)
            #expect(again.status == .notFound && again.json.errorField == "id")
        }
    }
}
