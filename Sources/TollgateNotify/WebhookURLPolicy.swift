import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where webhooks may go. By default only `https` URLs whose host resolves to public addresses
/// only, so an API key cannot make Tollgate call into its own network (loopback, private ranges,
/// link-local cloud metadata…, and IPv6 forms that carry such an IPv4 address inside), on
/// port 443 or 8443. `allowPrivate` (serve `--allow-private-webhook-urls`, for tests and closed
/// networks) lifts these rules. Checked when an endpoint is saved and again before
/// every delivery, since a name can resolve elsewhere later.
public struct WebhookURLPolicy: Sendable {
    public let allowPrivate: Bool

    public init(allowPrivate: Bool) { self.allowPrivate = allowPrivate }

    /// Why a URL is refused, in words fit for an API error.
    public struct Refusal: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public func check(_ text: String) async throws(Refusal) -> URL {
        guard text.unicodeScalars.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
        else { throw Refusal(description: "must be an absolute http(s) URL without credentials") }
        guard scheme == "https" || (scheme == "http" && allowPrivate) else {
            throw Refusal(description: allowPrivate ? "must be an http(s) URL" : "must be an https URL")
        }
        if allowPrivate { return url }
        guard Self.allowedPorts.contains(url.port ?? 443) else {
            throw Refusal(description: "must use port 443 or 8443 (or none)")
        }
        let addresses = await Self.resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
        guard !addresses.isEmpty else { throw Refusal(description: "its host \(host) does not resolve") }
        if let blocked = addresses.first(where: { !Self.isPublic($0) }) {
            throw Refusal(
                description:
                    "its host \(host) resolves to a private address (\(Self.text(blocked))), which is not allowed")
        }
        return url
    }

    static let allowedPorts: Set<Int> = [443, 8443]

    /// The addresses a host name resolves to, as 4 or 16 bytes each.
    static func resolve(_ host: String) async -> [[UInt8]] {
        await Task.detached {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
                hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [[UInt8]] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let address = entry.pointee.ai_addr {
                    switch Int32(address.pointee.sa_family) {
                    case AF_INET:
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                            var raw = $0.pointee.sin_addr
                            addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                        }
                    case AF_INET6:
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                            var raw = $0.pointee.sin6_addr
                            addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                        }
                    default: break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return addresses
        }.value
    }

    /// Whether an address is reachable on the public Internet (not loopback, private, link-local,
    /// shared, multicast or reserved).
    static func isPublic(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 16 {
            // Forms that carry an IPv4 address are judged by it: IPv4-compatible (::a.b.c.d, and
            // so :: and ::1), IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d)
            // and 6to4 (2002:aabb:ccdd::/16).
            if bytes[0..<12].allSatisfy({ $0 == 0 }) { return isPublic(Array(bytes[12...])) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return isPublic(Array(bytes[12...]))
            }
            if bytes[0..<8].allSatisfy({ $0 == 0 }) && bytes[8] == 0xff && bytes[9] == 0xff
                && bytes[10] == 0 && bytes[11] == 0
            {
                return isPublic(Array(bytes[12...]))
            }
            if bytes[0] == 0x20 && bytes[1] == 0x02 { return isPublic(Array(bytes[2..<6])) }
            if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0 && bytes[3] == 0 { return false } // Teredo
            if bytes[0] == 0x01 && bytes[1] == 0x00 && bytes[2..<8].allSatisfy({ $0 == 0 }) { return false } // discard
            if bytes[0] & 0xfe == 0xfc { return false } // fc00::/7 unique local
            if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return false } // fe80::/10 link-local
            if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0xc0 { return false } // fec0::/10 site-local
            if bytes[0] == 0xff { return false } // multicast
            if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return false } // doc
            if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b { return false } // NAT64
            return true
        }
        guard bytes.count == 4 else { return false }
        let (a, b, c) = (bytes[0], bytes[1], bytes[2])
        switch a {
        case 0, 10, 127: return false
        case 100 where b & 0xc0 == 64: return false // 100.64.0.0/10 shared
        case 169 where b == 254: return false // link-local, cloud metadata
        case 172 where b & 0xf0 == 16: return false
        case 192 where b == 168: return false
        case 192 where b == 0 && (c == 0 || c == 2): return false // protocol assignments, TEST-NET-1
        case 198 where b & 0xfe == 18: return false // benchmarking
        case 198 where b == 51 && c == 100: return false // TEST-NET-2
        case 203 where b == 0 && c == 113: return false // TEST-NET-3
        case 224...255: return false // multicast, reserved, broadcast
        default: return true
        }
    }

    static func text(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: bytes.count, by: 2).map {
            String(format: "%x", Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]))
        }
        .joined(separator: ":")
    }
}
