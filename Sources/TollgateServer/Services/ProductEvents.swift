import Foundation
import TollgateCore
import TollgateStorage

/// Product events that are not metered (`note_created`, `upgrade_intent`…), up to 1,000 at once,
/// each recorded once per customer and idempotency key. They feed the activity analytics
/// (DAU/WAU/MAU, adoption, retention) beside the consumes.
struct ProductEvents: Sendable {
    let store: any AnalyticsStore
    let clock: any TollgateClock

    static let maximumEvents = 1000
    static let maximumProperties = 20
    static let maximumPropertyLength = 256
    /// How far ahead of the server's clock an event's time may be (clocks drift).
    static let futureTolerance: TimeInterval = 300

    struct Event: Decodable {
        let customer: String
        let event: String
        let idempotencyKey: String
        let timestamp: Date?
        let properties: [String: PropertyValue]?
    }

    /// A property: a string, a number or true/false.
    enum PropertyValue: Codable, Equatable {
        case string(String)
        case number(Decimal)
        case bool(Bool)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode(Decimal.self) {
                self = .number(value)
            } else {
                throw DomainError.invalidField(
                    JSONBody.fieldPath(decoder.codingPath), "expected a string, a number or true/false")
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            }
        }
    }

    /// Records what is new among `events`: how many were, and how many were sent before.
    func track(_ events: [Event]) async throws -> (recorded: Int, duplicates: Int) {
        guard (1...Self.maximumEvents).contains(events.count) else {
            throw DomainError.invalidField("events", "send from 1 to \(Self.maximumEvents) events")
        }
        let now = clock.now()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let tracked = try events.enumerated().map { index, event -> TrackedEvent in
            let path = "events[\(index)]"
            guard (1...64).contains(event.event.count), Self.isEventName(event.event) else {
                throw DomainError.invalidField("\(path).event", "1 to 64 letters, digits, _ . - or :")
            }
            let at = event.timestamp ?? now
            guard at <= now.addingTimeInterval(Self.futureTolerance) else {
                throw DomainError.invalidField("\(path).timestamp", "is in the future")
            }
            let properties = event.properties ?? [:]
            guard properties.count <= Self.maximumProperties else {
                throw DomainError.invalidField("\(path).properties", "at most \(Self.maximumProperties) properties")
            }
            for (name, value) in properties {
                guard (1...64).contains(name.count), Self.isEventName(name) else {
                    throw DomainError.invalidField(
                        "\(path).properties", "property names are 1 to 64 letters, digits, _ . - or :")
                }
                if case .string(let text) = value, text.count > Self.maximumPropertyLength {
                    throw DomainError.invalidField(
                        "\(path).properties.\(name)", "at most \(Self.maximumPropertyLength) characters")
                }
            }
            return TrackedEvent(
                customerId: try Validate.identifier(event.customer, field: "\(path).customer"),
                idempotencyKey: try Validate.identifier(event.idempotencyKey, field: "\(path).idempotencyKey"),
                name: event.event, at: at,
                properties: String(decoding: try encoder.encode(properties), as: UTF8.self))
        }
        let fresh = try await store.track(tracked, receivedAt: now)
        let recorded = fresh.count { $0 }
        return (recorded, fresh.count - recorded)
    }

    /// ASCII letters, digits, `_`, `.`, `-` and `:`.
    static func isEventName(_ name: String) -> Bool {
        name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "_.-:".unicodeScalars.contains($0)
        }
    }
}
