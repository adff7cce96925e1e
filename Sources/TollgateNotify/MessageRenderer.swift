import Foundation
import TollgateCore
import TollgateIdentity
import TollgateStorage

/// Who mail comes from, and where its links lead.
public struct MailSettings: Sendable {
    public var productName: String
    public var from: String
    /// Links in mail start here (the product's front end, which calls Tollgate's API with the token).
    public var linkBase: URL
    /// The domain after `@` in `Message-ID`s.
    public var messageIDDomain: String

    public init(productName: String, from: String, linkBase: URL, messageIDDomain: String = "tollgate.local") {
        self.productName = productName
        self.from = from
        self.linkBase = linkBase
        self.messageIDDomain = messageIDDomain
    }
}

/// Turns an outbox row into the e-mail it stands for. Single-use tokens are sealed in the row and
/// opened only here, at send time. Everything taken from the row or from users is escaped in the
/// HTML part.
public struct MessageRenderer: Sendable {
    let settings: MailSettings
    let box: SecretBox

    public init(settings: MailSettings, box: SecretBox) {
        self.settings = settings
        self.box = box
    }

    public enum Failure: Error, Equatable {
        /// A kind no renderer knows, or a payload it cannot read: retrying will not help.
        case unreadable(String)
    }

    public func render(_ message: OutboxMessage) throws -> MailMessage {
        guard let payload = try? JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any]
        else { throw Failure.unreadable("payload of \(message.id) is not a JSON object") }
        func token() throws -> String {
            guard let sealed = payload["sealedToken"] as? String, let token = try? box.openToken(sealed) else {
                throw Failure.unreadable("\(message.id) carries no readable token")
            }
            return token
        }
        let product = settings.productName
        let content: (subject: String, lines: [String], link: (label: String, url: URL))
        switch message.kind {
        case "email.verify_email":
            content = (
                "Confirm your e-mail address for \(product)",
                ["Welcome to \(product).", "Confirm that this address is yours:"],
                ("Confirm my address", link("verify-email", ["token": try token()]))
            )
        case "email.reset_password":
            content = (
                "Reset your \(product) password",
                ["Someone asked to reset the password of this account.", "If it was you, choose a new one:"],
                ("Choose a new password", link("reset-password", ["token": try token()]))
            )
        case "email.workspace_invitation":
            let workspace = payload["workspaceName"] as? String ?? "a workspace"
            let workspaceId = payload["workspaceId"] as? String ?? ""
            let role = (payload["role"] as? String ?? "MEMBER").lowercased()
            content = (
                "You are invited to \(workspace) on \(product)",
                ["You are invited to join \(workspace) on \(product) as \(role)."],
                ("Join \(workspace)", link("join", ["workspace": workspaceId, "token": try token()]))
            )
        default:
            throw Failure.unreadable("no e-mail for kind \(message.kind)")
        }
        let footer = "If you did not expect this e-mail, you can ignore it."
        let text = (content.lines + ["", content.link.url.absoluteString, "", footer]).joined(separator: "\n") + "\n"
        let (href, label) = (HTMLText.escape(content.link.url.absoluteString), HTMLText.escape(content.link.label))
        let html = """
            <!doctype html><html><body>
            \(content.lines.map { "<p>\(HTMLText.escape($0))</p>" }.joined(separator: "\n"))
            <p><a href="\(href)">\(label)</a></p>
            <p><small>\(HTMLText.escape(footer))</small></p>
            </body></html>
            """
        return MailMessage(
            from: settings.from, to: message.recipient, subject: content.subject, text: text, html: html,
            messageID: "\(message.id)@\(settings.messageIDDomain)", date: message.createdAt)
    }

    private func link(_ path: String, _ query: [String: String]) -> URL {
        var components = URLComponents(
            url: settings.linkBase.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        return components.url!
    }
}
