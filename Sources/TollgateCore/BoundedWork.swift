import Dispatch
import Synchronization

/// Runs CPU-heavy work (bcrypt, a PDF) on Dispatch's threads, never on the cooperative pool that
/// serves requests, at most `width` at once with at most `depth` more waiting; beyond that the
/// work is refused at once with 503, so a flood of it cannot make the server stop answering.
public final class BoundedWork: Sendable {
    /// Who runs and who waits; the transitions are made under the lock, the resumptions after it.
    struct Admission {
        let width: Int
        let depth: Int
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []

        enum Decision { case run, wait, refuse }

        mutating func arrive() -> Decision {
            if running < width {
                running += 1
                return .run
            }
            return waiting.count < depth ? .wait : .refuse
        }

        /// A finished run hands its place to the first waiter, if any.
        mutating func leave() -> CheckedContinuation<Bool, Never>? {
            if waiting.isEmpty {
                running -= 1
                return nil
            }
            return waiting.removeFirst()
        }
    }

    private let admission: Mutex<Admission>
    private let name: String
    private let counted = Mutex(0)

    /// Pieces of work started since the gate was made.
    public var started: Int { counted.withLock { $0 } }
    /// Pieces of work waiting for a place now.
    public var waiting: Int { admission.withLock { $0.waiting.count } }

    public init(name: String, width: Int, depth: Int) {
        self.name = name
        admission = Mutex(Admission(width: max(1, width), depth: max(0, depth)))
    }

    public func run<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await enter()
        counted.withLock { $0 += 1 }
        defer { admission.withLock { $0.leave() }?.resume(returning: true) }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Swift.Result { try work() }) }
        }
    }

    /// Waits for a place; the continuation answers whether one was given (false: refused).
    private func enter() async throws {
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decision = admission.withLock { state -> Admission.Decision in
                let decision = state.arrive()
                if decision == .wait { state.waiting.append(continuation) }
                return decision
            }
            switch decision {
            case .run: continuation.resume(returning: true)
            case .wait: break
            case .refuse: continuation.resume(returning: false)
            }
        }
        guard admitted else {
            throw DomainError(
                .unavailable, "the server is busy with \(name); try again in a second", retryAfterSeconds: 1)
        }
    }
}
