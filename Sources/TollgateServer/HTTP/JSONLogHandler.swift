import Foundation
import Logging
import Synchronization

/// Logs as one JSON object per line on standard error (`serve --log-format json`), for log
/// collectors: time, level, label, message, source, and the metadata — among it `request_id`,
/// the id Hummingbird gives each request (also sent back as `X-Request-Id`).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    /// One line at a time, whole, whichever task logs.
    private static let output = Mutex(FileHandle.standardError)

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        let data = Self.line(
            level: level, label: label, message: "\(message)", source: source,
            metadata: self.metadata.merging(metadata ?? [:]) { $1 }, at: Date())
        Self.output.withLock { $0.write(data) }
    }

    static func line(
        level: Logger.Level, label: String, message: String, source: String, metadata: Logger.Metadata, at: Date
    ) -> Data {
        var object: [String: String] = [
            "time": at.formatted(.iso8601), "level": level.rawValue, "label": label, "message": message,
            "source": source,
        ]
        for (key, value) in metadata { object[key == "hb.request.id" ? "request_id" : key] = "\(value)" }
        var data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        data.append(0x0A)
        return data
    }
}
