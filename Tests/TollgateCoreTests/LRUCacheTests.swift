import PropertyBased
import Testing
import TollgateCore

@Suite struct LRUCacheTests {
    @Test func dropsTheLeastRecentlyUsedEntry() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.set("a", 1)
        cache.set("b", 2)
        #expect(cache.get("a") == 1) // "b" is now the oldest
        let evicted = cache.set("c", 3)
        #expect(evicted?.key == "b" && evicted?.value == 2)
        #expect(cache.keysByRecency == ["c", "a"] && cache.peek("b") == nil)
        cache.set("a", 10)
        #expect(cache.keysByRecency == ["a", "c"] && cache.count == 2 && cache.peek("a") == 10)
        cache.removeAll { key, _ in key == "c" }
        #expect(cache.keysByRecency == ["a"])
    }

    /// Against a model: a list of keys, most recent first, cut at the capacity.
    @Test func behavesLikeAListCutAtItsCapacity() async {
        let operations = zip(Gen.int(in: 0...2), Gen.int(in: 0...9)).array(of: 0...200)
        await propertyCheck(count: 300, input: Gen.int(in: 1...6), operations) { capacity, operations in
            var cache = LRUCache<Int, Int>(capacity: capacity)
            var model: [(key: Int, value: Int)] = []
            for (step, (operation, key)) in operations.enumerated() {
                switch operation {
                case 0:
                    cache.set(key, step)
                    model.removeAll { $0.key == key }
                    model.insert((key, step), at: 0)
                    if model.count > capacity { model.removeLast() }
                case 1:
                    let found = cache.get(key)
                    let position = model.firstIndex { $0.key == key }
                    #expect(found == position.map { model[$0].value })
                    if let position { model.insert(model.remove(at: position), at: 0) }
                default:
                    cache.removeValue(forKey: key)
                    model.removeAll { $0.key == key }
                }
                #expect(cache.keysByRecency == model.map(\.key))
            }
        }
    }
}
