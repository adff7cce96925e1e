import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A program the tests start, spawned with `posix_spawn` and reaped with `waitpid`.
///
/// Foundation's `Process` is not used: on Linux its launch crashed the test process twice (a bad
/// pointer in a `memcpy`, once while launches were already serialized), and it brings a run loop
/// thread and a SIGCHLD source of its own. Here the pipes are close-on-exec, the child starts with
/// no blocked signals (SIGTERM stops a server), and every descriptor above stderr is closed in it.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The exit code, or the signal that ended it, once reaped.
    private let ended = Mutex<Int32?>(nil)

    public enum Output: Sendable {
        case discard
        case capture
    }

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `program` with the test process's environment plus `environment`; the read ends
    /// of the outputs asked for, which the caller reads to their end and closes.
    /// One spawn at a time: a pipe is made close-on-exec just after it is made, and no other
    /// child may be started in between.
    private static let spawning = Mutex(())

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34), which the Glibc module does
    /// not declare: descriptors of the test process that are not close-on-exec stay out of the
    /// child too.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast(
                $0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }

    public static func spawn(
        _ program: String, _ arguments: [String], environment: [String: String] = [:],
        stdout: Output = .discard, stderr: Output = .discard
    ) throws -> (process: ChildProcess, stdout: Int32?, stderr: Int32?) {
        try spawning.withLock { _ in
            try spawnAlone(program, arguments, environment: environment, stdout: stdout, stderr: stderr)
        }
    }

    private static func spawnAlone(
        _ program: String, _ arguments: [String], environment: [String: String], stdout: Output, stderr: Output
    ) throws -> (process: ChildProcess, stdout: Int32?, stderr: Int32?) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var parentEnds: [Int32?] = []
        var childEnds: [Int32] = []
        defer { childEnds.forEach { _ = close($0) } }
        for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                parentEnds.append(nil)
            case .capture:
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0, fcntl(ends[0], F_SETFD, FD_CLOEXEC) == 0,
                    fcntl(ends[1], F_SETFD, FD_CLOEXEC) == 0
                else {
                    parentEnds.compactMap { $0 }.forEach { _ = close($0) }
                    throw TestSupportError("pipe2 failed: errno \(errno)")
                }
                posix_spawn_file_actions_adddup2(&actions, ends[1], target)
                parentEnds.append(ends[0])
                childEnds.append(ends[1])
            }
        }
        if let closeFrom = closeFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        guard status == 0 else {
            parentEnds.compactMap { $0 }.forEach { _ = close($0) }
            throw TestSupportError("cannot start \(program): \(String(cString: strerror(status)))")
        }
        return (ChildProcess(pid: pid), parentEnds[0], parentEnds[1])
    }

    /// Waits for the process to end: its exit code, or the signal that ended it. Blocks the
    /// calling thread: async code awaits `exit()` instead.
    @discardableResult
    public func wait() -> Int32 {
        // Block until it ended without reaping it, and without holding the lock: `signal` stays
        // free to run meanwhile and can never reach a pid that was reaped and reused.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        return reap()
    }

    /// Waits on a thread of its own for the process to end: the cooperative pool's few threads
    /// (two on a two-core machine) are never held by a child that runs for minutes.
    @discardableResult
    public func exit() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread { continuation.resume(returning: self.wait()) }
        }
    }

    private func reap() -> Int32 {
        ended.withLock { ended in
            if let ended { return ended }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1, errno == EINTR {}
            let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
            ended = code
            return code
        }
    }

    /// Sends `signal` unless the process was reaped already (its pid may belong to another).
    public func signal(_ signal: Int32) {
        ended.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    /// SIGKILL, then reaps it (a killed process ends at once: waiting on it blocks no longer
    /// than the kernel takes to tear it down).
    public func stop() {
        signal(SIGKILL)
        wait()
    }

    /// Reads `descriptor` to its end and closes it.
    public static func readToEnd(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(descriptor)
        return data
    }

    /// The rest of the first whole line read from `descriptor` that starts with `prefix` (nil if
    /// the output ends first). A thread of its own keeps draining the output to its end after
    /// that, so that the child never blocks on a full pipe, then closes it.
    public static func firstLine(of descriptor: Int32, startingWith prefix: String) async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            Thread.detachNewThread {
                var pending = "", found = false
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { break }
                    guard !found else { continue }
                    pending += String(decoding: buffer[0..<count], as: UTF8.self)
                    guard let lastBreak = pending.lastIndex(of: "\n") else { continue }
                    let whole = pending[..<lastBreak].split(separator: "\n")
                    pending = String(pending[pending.index(after: lastBreak)...])
                    if let line = whole.first(where: { $0.hasPrefix(prefix) }) {
                        found = true
                        continuation.resume(returning: String(line.dropFirst(prefix.count)))
                    }
                }
                close(descriptor)
                if !found { continuation.resume(returning: nil) }
            }
        }
    }
}
