import Foundation

/// Where mail goes: an SMTP server, or files.
public protocol MailTransport: Sendable {
    /// Hands `message` over; throws `MailError` (permanent or not) when it could not.
    func send(_ message: MailMessage) async throws
    /// Where the mail goes, for the log.
    var destination: String { get }
}

public enum MailError: Error, Sendable, Equatable {
    /// Worth trying again later (the server is down, a 4xx reply).
    case temporary(String)
    /// Never worth trying again (a 5xx reply: no such mailbox).
    case permanent(String)
}

/// Without an SMTP server (the demo): each message is written as `<Message-ID>.eml` into a
/// directory, readable by any mail program. Written to a temporary name and renamed, so a
/// reader never sees half a message; writing it again (at-least-once) replaces it.
public struct FileMailbox: MailTransport {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public var destination: String { "files in \(directory.path)" }

    public func send(_ message: MailMessage) async throws {
        let name = message.messageID.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." ? $0 : "_" }
        let final = directory.appendingPathComponent(String(name) + ".eml")
        let temporary = directory.appendingPathComponent(".\(String(name)).\(UUID().uuidString).tmp")
        do {
            try Data(message.rendered.utf8).write(to: temporary)
            // rename(2) replaces the file atomically, whether or not it exists.
            guard rename(temporary.path, final.path) == 0 else {
                throw MailError.temporary("could not rename into \(final.path): errno \(errno)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw MailError.temporary("could not write \(final.path): \(error)")
        }
    }
}
