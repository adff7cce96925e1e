import Synchronization

/// What this process's own transactions announce (`notify`), told to its listeners the moment
/// they commit — before the caller of the transaction goes on, so the next request here already
/// sees the change. Other processes hear the same announcement through `listen`. A transaction
/// that rolls back tells nothing.
public final class CommitAnnouncements: Sendable {
    public typealias Listener = @Sendable (_ payload: String) -> Void

    /// The announcements of the transaction running in this task, and whose it is.
    final class Collected: Sendable {
        let owner: ObjectIdentifier
        let announced = Mutex<[(channel: String, payload: String)]>([])

        init(owner: ObjectIdentifier) { self.owner = owner }
    }

    @TaskLocal static var open: Collected?

    private let listeners = Mutex<[String: [Listener]]>([:])

    public init() {}

    /// Calls `listener` with the payload of each announcement on `channel` this process commits.
    public func onCommit(channel: String, _ listener: @escaping Listener) {
        listeners.withLock { $0[channel, default: []].append(listener) }
    }

    /// Runs a whole transaction (begin … commit) collecting what it announces, then tells the
    /// listeners; a transaction of this database within one already collecting joins it.
    func collecting<T>(_ transaction: () async throws -> T) async throws -> T {
        if Self.open?.owner == ObjectIdentifier(self) { return try await transaction() }
        let collected = Collected(owner: ObjectIdentifier(self))
        let result = try await Self.$open.withValue(collected) { try await transaction() }
        let announced = collected.announced.withLock { $0 }
        guard !announced.isEmpty else { return result }
        let listeners = listeners.withLock { $0 }
        for (channel, payload) in announced {
            for listener in listeners[channel] ?? [] { listener(payload) }
        }
        return result
    }

    /// Notes an announcement of the transaction running in this task, told when it commits.
    func announce(channel: String, payload: String) {
        guard let open = Self.open, open.owner == ObjectIdentifier(self) else { return }
        open.announced.withLock { $0.append((channel, payload)) }
    }
}
