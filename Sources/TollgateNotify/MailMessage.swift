import Foundation

/// An e-mail ready to send: who, what (plain text and HTML alternatives), and a `Message-ID`
/// derived from the outbox row, so a message sent twice (at-least-once) is recognisable.
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String
    public var messageID: String
    public var date: Date
    /// Where a reader stops mail of this kind (RFC 2369 `List-Unsubscribe`, one-click per RFC
    /// 8058); nil on transactional mail, which cannot be turned off.
    public var unsubscribe: URL?
    /// Files sent with it (an invoice's PDF).
    public var attachments: [Attachment] = []

    public struct Attachment: Sendable, Equatable {
        public let filename: String
        public let contentType: String
        public let data: [UInt8]

        public init(filename: String, contentType: String, data: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    public init(from: String, to: String, subject: String, text: String, html: String, messageID: String, date: Date) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.date = date
    }

    /// The message as RFC 5322 text with CRLF line ends: headers (non-ASCII ones encoded per RFC
    /// 2047) and a `multipart/alternative` body, each part base64 encoded (UTF-8 safe, lines ≤ 76);
    /// with attachments, that body and the files inside a `multipart/mixed` one.
    public var rendered: String {
        let boundary = "tollgate-" + messageID.filter { $0.isLetter || $0.isNumber }
        var lines = [
            "From: \(MIME.mailbox(from))",
            "To: <\(to)>",
            "Subject: \(MIME.header(subject))",
            "Date: \(MIME.date(date))",
            "Message-ID: <\(messageID)>",
        ]
        if let unsubscribe {
            lines += [
                "List-Unsubscribe: <\(unsubscribe.absoluteString)>",
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            ]
        }
        lines.append("MIME-Version: 1.0")
        let mixed = "mixed-" + boundary
        if !attachments.isEmpty {
            lines += ["Content-Type: multipart/mixed; boundary=\"\(mixed)\"", "", "--\(mixed)"]
        }
        lines += ["Content-Type: multipart/alternative; boundary=\"\(boundary)\"", ""]
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            lines += [
                "--\(boundary)",
                "Content-Type: \(type); charset=utf-8",
                "Content-Transfer-Encoding: base64",
                "",
            ]
            lines += MIME.base64Lines(Data(body.utf8))
        }
        lines.append("--\(boundary)--")
        for attachment in attachments {
            let name = attachment.filename.filter { $0.isASCII && $0 != "\"" && $0 != "\\" && !$0.isNewline }
            lines += [
                "--\(mixed)",
                "Content-Type: \(attachment.contentType); name=\"\(name)\"",
                "Content-Disposition: attachment; filename=\"\(name)\"",
                "Content-Transfer-Encoding: base64",
                "",
            ]
            lines += MIME.base64Lines(Data(attachment.data))
        }
        if !attachments.isEmpty { lines.append("--\(mixed)--") }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

enum MIME {
    /// A header value as is when it is printable ASCII, else an RFC 2047 encoded word (UTF-8,
    /// base64), split so no encoded word passes 75 characters.
    static func header(_ value: String) -> String {
        let clean = value.filter { $0 != "\r" && $0 != "\n" }
        if clean.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return clean }
        var words: [String] = []
        var chunk = ""
        for character in clean {
            // 45 bytes of UTF-8 make 60 of base64: with `=?UTF-8?B?` and `?=`, 72 characters.
            if (chunk + String(character)).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    /// Base64 in lines of 76 characters (RFC 2045), as Foundation writes it (CRLF between lines).
    /// `Name <address>` with only the name encoded (an encoded word may not hold the address).
    static func mailbox(_ value: String) -> String {
        guard let open = value.lastIndex(of: "<") else { return header(value) }
        let name = value[..<open].trimmingCharacters(in: .whitespaces)
        let address = "<\(self.address(value).filter { $0 != "\r" && $0 != "\n" })>"
        return name.isEmpty ? address : "\(header(name)) \(address)"
    }

    /// The address inside `Name <address>`, or the whole text.
    static func address(_ mailbox: String) -> String {
        guard let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close else {
            return mailbox.trimmingCharacters(in: .whitespaces)
        }
        return String(mailbox[mailbox.index(after: open)..<close])
    }

    static func base64Lines(_ data: Data) -> [String] {
        data.base64EncodedString(options: .lineLength76Characters).components(separatedBy: "\r\n")
    }

    /// RFC 5322 date, in UTC: `Sun, 29 Nov 2026 20:10:00 +0000`.
    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
