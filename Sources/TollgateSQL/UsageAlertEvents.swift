import Foundation
import TollgateCore
import TollgateStorage

/// The quota alerts a committed counter change raises, as outbox events. Each one's id is
/// derived from the counter, its period and the threshold, and inserted with `ON CONFLICT DO
/// NOTHING`: a threshold crossed again in the same period (after a release, or by another node)
/// writes nothing, while a new period is a new counter and re-arms every threshold.
enum UsageAlertEvents {
    static func messages(for delta: CounterDelta, usedAfter: Int64, at date: Date) throws -> [OutboxMessage] {
        guard let alert = delta.alert else { return [] }
        let crossed = UsageThresholds.crossed(
            percents: alert.percents, limit: alert.limit, before: usedAfter - delta.delta, after: usedAfter)
        return try crossed.map { percent in
            try OutboxEvent.message(
                id: id(delta.key, percent: percent), type: UsageThresholds.eventType(percent: percent),
                subject: delta.key.subject,
                data: UsageAlert(
                    key: delta.key, percent: percent, limit: alert.limit, used: usedAfter,
                    periodEnd: delta.periodEndMillis.map(Millis.date)),
                at: date)
        }
    }

    static func id(_ key: CounterKey, percent: Int) -> String {
        EventIds.derive("usage", key.description, String(percent))
    }
}
