import Foundation
import NIOCore
import NIOPosix

/// Sends mail to an SMTP server (RFC 5321) over SwiftNIO: EHLO, AUTH PLAIN when credentials are
/// given, MAIL FROM, RCPT TO, DATA (dot-stuffed), QUIT — one connection per message. A 4xx
/// reply or a connection failure is temporary (retried), a 5xx reply permanent.
/// Plain TCP only so far: STARTTLS and implicit TLS are not implemented yet.
public struct SMTPTransport: MailTransport {
    public struct Configuration: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?

        /// `smtp://user:password@host:port` (port 25 when absent).
        public init?(url: String) {
            guard let components = URLComponents(string: url), components.scheme == "smtp",
                let host = components.host, !host.isEmpty
            else { return nil }
            self.host = host
            port = components.port ?? 25
            username = components.user?.removingPercentEncoding
            password = components.password?.removingPercentEncoding
        }
    }

    let configuration: Configuration
    let heloName: String
    let timeout: TimeAmount

    public init(configuration: Configuration, heloName: String = "tollgate.local", timeout: TimeAmount = .seconds(30)) {
        self.configuration = configuration
        self.heloName = heloName
        self.timeout = timeout
    }

    public var destination: String { "SMTP server \(configuration.host):\(configuration.port)" }

    public func send(_ message: MailMessage) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyLineDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MailError.temporary("cannot connect to \(destination): \(error)")
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var replies = SMTPReplies(lines: inbound.makeAsyncIterator())
                func command(_ line: String, expect: Int) async throws {
                    try await outbound.write(ByteBuffer(string: line + "\r\n"))
                    try await replies.expect(expect, after: line)
                }
                try await replies.expect(220, after: "connecting")
                try await command("EHLO \(heloName)", expect: 250)
                if let username = configuration.username {
                    let credentials = Data("\0\(username)\0\(configuration.password ?? "")".utf8).base64EncodedString()
                    try await command("AUTH PLAIN \(credentials)", expect: 235)
                }
                try await command("MAIL FROM:<\(MIME.address(message.from))>", expect: 250)
                try await command("RCPT TO:<\(message.to)>", expect: 250)
                try await command("DATA", expect: 354)
                try await outbound.write(ByteBuffer(string: Self.dotStuffed(message.rendered) + ".\r\n"))
                try await replies.expect(250, after: "the message")
                try? await outbound.write(ByteBuffer(string: "QUIT\r\n"))
            }
        } catch let error as MailError {
            throw error
        } catch {
            throw MailError.temporary("SMTP conversation with \(destination) failed: \(error)")
        }
    }

    /// RFC 5321 §4.5.2: a line starting with "." gets another one.
    static func dotStuffed(_ rendered: String) -> String {
        rendered.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
    }
}

/// Reads SMTP replies (`250-…` continued, `250 …` final) from lines.
struct SMTPReplies {
    var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    mutating func expect(_ code: Int, after what: String) async throws {
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
            return
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
