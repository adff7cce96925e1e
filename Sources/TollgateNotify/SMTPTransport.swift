import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Sends mail to an SMTP server (RFC 5321) over SwiftNIO: EHLO, STARTTLS when the server offers
/// it (or implicit TLS with `smtps://`), AUTH PLAIN or LOGIN when credentials are given, MAIL
/// FROM, RCPT TO, DATA (dot-stuffed), QUIT — one connection per message. A 4xx reply, a
/// connection failure or a conversation past its deadline is temporary (retried), a 5xx reply
/// permanent.
public struct SMTPTransport: MailTransport {
    public struct Configuration: Sendable, Equatable {
        public enum Security: String, Sendable, Equatable {
            /// STARTTLS when the server offers it, else plain text (a local relay).
            case opportunistic
            /// STARTTLS or no mail: `smtp://…?starttls=required`.
            case startTLSRequired
            /// TLS from the first byte: `smtps://` (port 465 by default).
            case implicit
        }

        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        public var security: Security
        /// PEM certificates trusted besides the system's (`?ca=/path/ca.pem`): a private relay's CA.
        public var caFile: String?

        /// `smtp://user:password@host:port` (port 25 when absent), `…?starttls=required`,
        /// `smtps://…` (465), and `&ca=/path/ca.pem`.
        public init?(url: String) {
            guard let components = URLComponents(string: url), let scheme = components.scheme,
                scheme == "smtp" || scheme == "smtps", let host = components.host, !host.isEmpty
            else { return nil }
            let query = Dictionary(
                (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            guard Set(query.keys).isSubset(of: ["starttls", "ca"]), [nil, "required"].contains(query["starttls"])
            else { return nil }
            self.host = host
            port = components.port ?? (scheme == "smtps" ? 465 : 25)
            username = components.user?.removingPercentEncoding
            password = components.password?.removingPercentEncoding
            security =
                scheme == "smtps" ? .implicit : query["starttls"] == "required" ? .startTLSRequired : .opportunistic
            caFile = query["ca"].flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    let configuration: Configuration
    let heloName: String
    let timeout: TimeAmount
    /// The longest a whole conversation may take; past it the connection is closed (temporary).
    let deadline: TimeAmount
    let tls: NIOSSLContext

    public init(
        configuration: Configuration, heloName: String = "tollgate.local", timeout: TimeAmount = .seconds(30),
        deadline: TimeAmount = .seconds(120)
    ) throws {
        self.configuration = configuration
        self.heloName = heloName
        self.timeout = timeout
        self.deadline = deadline
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile { tls.additionalTrustRoots = [.file(caFile)] }
        self.tls = try NIOSSLContext(configuration: tls)
    }

    public var destination: String { "SMTP server \(configuration.host):\(configuration.port)" }

    /// The name sent for SNI and checked against the certificate; none for an IP address.
    var serverHostname: String? {
        configuration.host.contains(":") || configuration.host.allSatisfy({ $0.isNumber || $0 == "." })
            ? nil : configuration.host
    }

    public func send(_ message: MailMessage) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let (tls, hostname, implicit) = (tls, serverHostname, configuration.security == .implicit)
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if implicit {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tls, serverHostname: hostname))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyLineDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MailError.temporary("cannot connect to \(destination): \(error)")
        }
        // A server that stops answering mid-conversation does not hold the sender forever.
        let expiry = channel.channel.eventLoop.scheduleTask(in: deadline) { channel.channel.close(promise: nil) }
        defer { expiry.cancel() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await converse(message, channel: channel.channel, inbound: inbound, outbound: outbound)
            }
        } catch let error as MailError {
            throw error
        } catch {
            throw MailError.temporary("SMTP conversation with \(destination) failed: \(error)")
        }
    }

    private func converse(
        _ message: MailMessage, channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws {
        var replies = SMTPReplies(lines: inbound.makeAsyncIterator())
        @discardableResult
        func command(_ line: String, expect: Int, shown: String? = nil) async throws -> [String] {
            try await outbound.write(ByteBuffer(string: line + "\r\n"))
            return try await replies.expect(expect, after: shown ?? line)
        }
        try await replies.expect(220, after: "connecting")
        var capabilities = SMTPCapabilities(try await command("EHLO \(heloName)", expect: 250))
        if configuration.security != .implicit {
            if capabilities.startTLS {
                try await command("STARTTLS", expect: 220)
                // Nothing is in flight now (the server waits for our handshake): TLS goes in
                // front of the line decoder, and the conversation starts over, encrypted.
                try await channel.pipeline.addHandler(
                    try NIOSSLClientHandler(context: tls, serverHostname: serverHostname), position: .first)
                capabilities = SMTPCapabilities(try await command("EHLO \(heloName)", expect: 250))
            } else if configuration.security == .startTLSRequired {
                throw MailError.permanent("\(destination) does not offer STARTTLS, which the configuration requires")
            }
        }
        if let username = configuration.username {
            let password = configuration.password ?? ""
            if capabilities.authMechanisms.contains("PLAIN") || !capabilities.authMechanisms.contains("LOGIN") {
                let credentials = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
                try await command("AUTH PLAIN \(credentials)", expect: 235, shown: "AUTH PLAIN")
            } else {
                try await command("AUTH LOGIN", expect: 334)
                try await command(Data(username.utf8).base64EncodedString(), expect: 334, shown: "the user name")
                try await command(Data(password.utf8).base64EncodedString(), expect: 235, shown: "the password")
            }
        }
        try await command("MAIL FROM:<\(MIME.address(message.from))>", expect: 250)
        try await command("RCPT TO:<\(message.to)>", expect: 250)
        try await command("DATA", expect: 354)
        try await outbound.write(ByteBuffer(string: Self.dotStuffed(message.rendered) + ".\r\n"))
        try await replies.expect(250, after: "the message")
        try? await outbound.write(ByteBuffer(string: "QUIT\r\n"))
    }

    /// RFC 5321 §4.5.2: a line starting with "." gets another one.
    static func dotStuffed(_ rendered: String) -> String {
        rendered.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
    }
}

/// What a server's EHLO reply offers (`250-STARTTLS`, `250-AUTH PLAIN LOGIN`).
struct SMTPCapabilities {
    let startTLS: Bool
    let authMechanisms: Set<String>

    init(_ lines: [String]) {
        let keywords = lines.dropFirst().map { $0.dropFirst(4).uppercased() }
        startTLS = keywords.contains("STARTTLS")
        authMechanisms = Set(
            keywords.filter { $0.hasPrefix("AUTH ") || $0.hasPrefix("AUTH=") }.flatMap {
                $0.dropFirst(5).split(separator: " ").map(String.init)
            })
    }
}

/// Reads SMTP replies (`250-…` continued, `250 …` final) from lines.
struct SMTPReplies {
    var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    /// The reply's lines, once its code is `code`.
    @discardableResult
    mutating func expect(_ code: Int, after what: String) async throws -> [String] {
        var text: [String] = []
        while true {
            guard let buffer = try await lines.next() else {
                throw MailError.temporary("the SMTP server closed the connection after \(what)")
            }
            let line = String(buffer: buffer)
            text.append(line)
            guard line.count >= 3, let reply = Int(line.prefix(3)) else {
                throw MailError.temporary("unreadable SMTP reply after \(what): \(line)")
            }
            // "250-…" is continued; "250 …" (or "250") ends the reply.
            if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
            guard reply == code else {
                let message = "SMTP \(what): \(text.joined(separator: " / "))"
                throw reply >= 500 ? MailError.permanent(message) : MailError.temporary(message)
            }
            return text
        }
    }
}

/// Splits the server's bytes into lines (without CRLF), at most 4 KiB each.
struct SMTPReplyLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { throw MailError.temporary("SMTP reply line too long") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)!
        }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}
