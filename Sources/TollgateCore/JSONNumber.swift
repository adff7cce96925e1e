import Foundation

/// A whole number read from what `JSONSerialization` returns (an `NSNumber`, or an `Int` built in
/// Swift): the one way payloads and provider bodies are read as minor units and counts.
public enum JSONNumber {
    public static func int64(_ value: Any?) -> Int64? {
        (value as? NSNumber).map { $0.int64Value } ?? (value as? Int).map(Int64.init)
    }
}
