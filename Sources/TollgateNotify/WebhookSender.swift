import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Sends webhook messages as Standard Webhooks says: signed with every live secret of the
/// endpoint, only a 2xx counts, `410 Gone` disables the endpoint, `Retry-After` is honoured, and
/// an endpoint failing for `disableAfter` is disabled. Redirects are not followed, the answer is
/// read up to 1 KiB, and every attempt is logged.
public struct WebhookSender: Sendable {
    public struct Settings: Sendable {
        public var timeout: TimeAmount = .seconds(15)
        public var disableAfter: TimeInterval = 5 * 86_400
        public var policy = WebhookURLPolicy(allowPrivate: false)
        /// Who hears that an endpoint was disabled for failing (nil: only the log).
        public var operatorEmail: String?

        public init() {}
    }

    /// What became of one attempt.
    public enum Outcome: Sendable, Equatable {
        case delivered
        /// Failed; try again, no sooner than `after` seconds when the endpoint said so.
        case failed(String, after: TimeInterval?)
        /// Never again: the endpoint is gone, disabled or deleted.
        case abandoned(String)
    }

    static let responseLimit = 1024

    let store: any (WebhookStore & OutboxStore)
    let box: SecretBox
    let client: HTTPClient
    let clock: any TollgateClock
    let settings: Settings
    let logger: Logger

    public init(
        store: any (WebhookStore & OutboxStore), box: SecretBox, client: HTTPClient, clock: any TollgateClock,
        settings: Settings, logger: Logger
    ) {
        self.store = store
        self.box = box
        self.client = client
        self.clock = clock
        self.settings = settings
        self.logger = logger
    }

    /// An HTTP client fit for webhooks: redirects are answers, not instructions.
    public static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(15))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ entry: OutboxEntry) async throws -> Outcome {
        let message = entry.message
        guard let endpoint = try await store.webhookEndpoint(id: message.recipient) else {
            return .abandoned("the endpoint was deleted")
        }
        guard endpoint.disabledAt == nil else { return .abandoned("the endpoint is disabled") }
        let started = clock.now()
        let answer = await post(message, to: endpoint, at: started)
        let latency = Int64(max(0, clock.now().timeIntervalSince(started) * 1000))
        try await store.recordWebhookAttempt(
            WebhookAttemptRecord(
                messageId: message.id, endpointId: endpoint.id, attempt: entry.attempts, at: started,
                status: answer.status, latencyMillis: latency, response: answer.body))
        switch answer.status {
        case .some(200..<300):
            if endpoint.failingSince != nil {
                try await store.recordWebhookEndpointHealth(id: endpoint.id, .answering, at: started)
            }
            return .delivered
        case .some(410):
            try await disable(endpoint, reason: "gone", at: started)
            return .abandoned("the endpoint answered 410 Gone: disabled")
        default:
            let reason = answer.status.map { "the endpoint answered \($0)" } ?? answer.body
            let failingSince = endpoint.failingSince ?? started
            if started.timeIntervalSince(failingSince) >= settings.disableAfter {
                try await disable(endpoint, reason: "failing", at: started)
                return .abandoned(reason + "; failing for \(Int(settings.disableAfter / 86_400)) days: disabled")
            }
            if endpoint.failingSince == nil {
                try await store.recordWebhookEndpointHealth(id: endpoint.id, .failing, at: started)
            }
            return .failed(reason, after: answer.retryAfter)
        }
    }

    private func disable(_ endpoint: WebhookEndpointRecord, reason: String, at date: Date) async throws {
        try await store.recordWebhookEndpointHealth(id: endpoint.id, .disabled(reason: reason), at: date)
        logger.warning("webhooks: endpoint \(endpoint.id) disabled (\(reason))", metadata: ["url": "\(endpoint.url)"])
        guard reason == "failing", let address = settings.operatorEmail else { return }
        let payload = try JSONSerialization.data(
            withJSONObject: ["endpointId": endpoint.id, "url": endpoint.url], options: [.sortedKeys])
        try await store.enqueueOutbox([
            OutboxMessage(
                id: "mail_disabled_\(endpoint.id)_\(Millis.from(date))", kind: "email.webhook_endpoint_disabled",
                recipient: address, payload: String(decoding: payload, as: UTF8.self), createdAt: date)
        ])
    }

    struct Answer {
        var status: Int?
        var body: String
        var retryAfter: TimeInterval?
    }

    private func post(_ message: OutboxMessage, to endpoint: WebhookEndpointRecord, at date: Date) async -> Answer {
        let url: URL
        do {
            url = try await settings.policy.check(endpoint.url)
        } catch {
            return Answer(body: "refused: the URL \(error.description)")
        }
        let body = Data(message.payload.utf8)
        let timestamp = Int64(date.timeIntervalSince1970)
        var secrets = [endpoint.sealedSecret]
        if let previous = endpoint.sealedPreviousSecret, let until = endpoint.previousSecretExpiresAt, until > date {
            secrets.append(previous)
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Tollgate-Webhooks/1")
        request.headers.add(name: "webhook-id", value: message.id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        do {
            let opened = try secrets.map { try box.openToken($0) }
            request.headers.add(
                name: "webhook-signature",
                value: try WebhookSignature.header(id: message.id, timestamp: timestamp, body: body, secrets: opened))
        } catch {
            return Answer(body: "the endpoint's secret cannot be read: \(error)")
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: settings.timeout)
            var kept = Data()
            for try await chunk in response.body {
                kept.append(contentsOf: chunk.readableBytesView.prefix(Self.responseLimit - kept.count))
                if kept.count >= Self.responseLimit { break }
            }
            return Answer(
                status: Int(response.status.code), body: String(decoding: kept, as: UTF8.self),
                retryAfter: response.headers.first(name: "retry-after").flatMap(Self.retryAfter))
        } catch {
            return Answer(body: "no answer: \(error)")
        }
    }

    /// `Retry-After` in seconds (the HTTP-date form is rare from webhook receivers), at most a day.
    static func retryAfter(_ value: String) -> TimeInterval? {
        guard let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return TimeInterval(min(seconds, 86_400))
    }
}
