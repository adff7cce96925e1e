import Foundation
import TollgateCore
import TollgateStorage

/// Whether an address receives notices (quota, trial, invoice reminders), whichever door sets it:
/// the unsubscribe link of a mail, or the signed-in user's preferences.
public struct MailPreferenceService: Sendable {
    let store: any MailPreferenceStore & TransactionalStorage
    let clock: any TollgateClock

    public init(store: any MailPreferenceStore & TransactionalStorage, clock: any TollgateClock) {
        self.store = store
        self.clock = clock
    }

    public func receivesNotices(_ address: String) async throws -> Bool {
        try await store.unsubscribed(among: [address.lowercased()]).isEmpty
    }

    /// The one-click unsubscribe of a mail's link.
    public func unsubscribe(_ address: String) async throws {
        try await set(address, notices: false, action: "account.mail_unsubscribed")
    }

    public func setNotices(_ address: String, _ notices: Bool) async throws {
        try await set(address, notices: notices, action: "account.mail_preferences_changed")
    }

    private func set(_ address: String, notices: Bool, action: String) async throws {
        let address = address.lowercased()
        let now = clock.now()
        try await store.transaction { tx in
            let before = try await tx.unsubscribed(among: [address]).isEmpty
            try await tx.setUnsubscribed(address, !notices, at: now)
            try await Audit.record(
                AuditChange(action, target: nil, before: ["notices": before], after: ["notices": notices]), in: tx)
        }
    }
}
