extension Array {
    /// The array cut, in order, into slices of at most `size` elements (a bulk write's
    /// statements stay under the databases' limits on bound values).
    public func chunks(of size: Int) -> [ArraySlice<Element>] {
        precondition(size > 0, "a chunk holds at least one element")
        return stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
