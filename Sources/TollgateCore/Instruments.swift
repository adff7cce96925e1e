/// What the engine reports as it works, for the server's metrics: closures that do nothing
/// unless the server sets them, so the engine's modules need no metrics library.
public struct Instruments: Sendable {
    /// A group commit: how many entries, how long its transaction took, whether it failed.
    public var groupCommit: @Sendable (_ entries: Int, _ duration: Duration, _ failed: Bool) -> Void = { _, _, _ in }
    /// An outbox message handled: its kind family (`email`, `webhook`, `event`), delivered or not.
    public var outboxDelivery: @Sendable (_ family: String, _ delivered: Bool) -> Void = { _, _ in }

    public init() {}
}
