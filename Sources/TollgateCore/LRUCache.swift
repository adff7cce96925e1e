/// A map that holds at most `capacity` entries, dropping the least recently used one to make
/// room. Reads and writes are O(1): the recency order is a doubly linked list kept in arrays.
/// A value type with no locking: callers that share one put it behind their own lock.
public struct LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        var older: Int?
        var newer: Int?
    }

    public let capacity: Int
    private var slots: [Node?] = []
    private var index: [Key: Int] = [:]
    private var freeSlots: [Int] = []
    private var newest: Int?
    private var oldest: Int?

    public init(capacity: Int) {
        precondition(capacity > 0, "an LRU cache holds at least one entry")
        self.capacity = capacity
    }

    public var count: Int { index.count }
    /// Lookups by `get` that found their key, and those that did not (the metrics' hit rate).
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// The value for `key`, which becomes the most recently used.
    public mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else {
            misses += 1
            return nil
        }
        hits += 1
        moveToNewest(slot)
        return slots[slot]?.value
    }

    /// The value for `key` without touching the recency order.
    public func peek(_ key: Key) -> Value? {
        index[key].flatMap { slots[$0]?.value }
    }

    /// Stores `value` as the most recently used; returns the entry dropped to make room, if any.
    @discardableResult
    public mutating func set(_ key: Key, _ value: Value) -> (key: Key, value: Value)? {
        if let slot = index[key] {
            slots[slot]?.value = value
            moveToNewest(slot)
            return nil
        }
        var evicted: (key: Key, value: Value)?
        if index.count >= capacity, let victim = oldest, let node = slots[victim] {
            evicted = (node.key, node.value)
            remove(slot: victim)
        }
        let slot = freeSlots.popLast() ?? allocate()
        slots[slot] = Node(key: key, value: value, older: newest, newer: nil)
        if let newest { slots[newest]?.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
        index[key] = slot
        return evicted
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        let value = slots[slot]?.value
        remove(slot: slot)
        return value
    }

    public mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        for (key, slot) in index where slots[slot].map({ shouldRemove(key, $0.value) }) == true {
            remove(slot: slot)
        }
    }

    public mutating func removeAll() {
        self = LRUCache(capacity: capacity)
    }

    /// Keys from the most to the least recently used (for tests).
    public var keysByRecency: [Key] {
        var keys: [Key] = []
        var cursor = newest
        while let slot = cursor, let node = slots[slot] {
            keys.append(node.key)
            cursor = node.older
        }
        return keys
    }

    private mutating func allocate() -> Int {
        slots.append(nil)
        return slots.count - 1
    }

    private mutating func unlink(_ slot: Int) {
        guard let node = slots[slot] else { return }
        if let older = node.older { slots[older]?.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { slots[newer]?.older = node.older } else { newest = node.older }
        slots[slot]?.older = nil
        slots[slot]?.newer = nil
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard newest != slot else { return }
        unlink(slot)
        slots[slot]?.older = newest
        if let newest { slots[newest]?.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }

    private mutating func remove(slot: Int) {
        guard let node = slots[slot] else { return }
        unlink(slot)
        slots[slot] = nil
        index[node.key] = nil
        freeSlots.append(slot)
    }
}
