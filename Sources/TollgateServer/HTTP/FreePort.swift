import NIOCore
import NIOPosix

/// A port nothing listens on at `host`: bound by a listener of its own, read back, released.
enum FreePort {
    static func pick(host: String) async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: host, port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw FreePortError(host: host) }
        return port
    }
}

struct FreePortError: Error, CustomStringConvertible {
    let host: String
    var description: String { "no free port found on \(host)" }
}
