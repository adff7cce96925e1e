import Foundation

/// A TrueType font read far enough to lay text out (advance widths, the character map) and to
/// embed a subset of it in a PDF: the glyphs used keep their ids, the others are emptied.
struct TrueTypeFont: Sendable {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    let data: [UInt8]
    private let tables: [String: Range<Int>]
    let unitsPerEm: Int
    let ascent: Int
    let descent: Int
    let capHeight: Int
    let boundingBox: [Int]
    let glyphCount: Int
    /// Advance widths in font units, per glyph id.
    let advances: [Int]
    /// Unicode scalar → glyph id.
    let glyphs: [UInt32: UInt16]
    /// Glyph id → its bytes in `glyf`.
    private let outlines: [Range<Int>]

    init(_ bytes: [UInt8]) throws {
        data = bytes
        let count = Int(Self.u16(bytes, 4))
        var tables: [String: Range<Int>] = [:]
        for index in 0..<count {
            let entry = 12 + 16 * index
            guard entry + 16 <= bytes.count else { throw Malformed(description: "truncated table directory") }
            let tag = String(decoding: bytes[entry..<entry + 4], as: UTF8.self)
            let offset = Int(Self.u32(bytes, entry + 8)), length = Int(Self.u32(bytes, entry + 12))
            guard offset + length <= bytes.count else { throw Malformed(description: "table \(tag) out of bounds") }
            tables[tag] = offset..<offset + length
        }
        for tag in ["head", "hhea", "maxp", "hmtx", "cmap", "loca", "glyf"] where tables[tag] == nil {
            throw Malformed(description: "no \(tag) table")
        }
        self.tables = tables
        let head = tables["head"]!.lowerBound, hhea = tables["hhea"]!.lowerBound
        unitsPerEm = Int(Self.u16(bytes, head + 18))
        boundingBox = [36, 38, 40, 42].map { Int(Int16(bitPattern: Self.u16(bytes, head + $0))) }
        ascent = Int(Int16(bitPattern: Self.u16(bytes, hhea + 4)))
        descent = Int(Int16(bitPattern: Self.u16(bytes, hhea + 6)))
        capHeight = tables["OS/2"].map { Int(Int16(bitPattern: Self.u16(bytes, $0.lowerBound + 88))) } ?? ascent
        glyphCount = Int(Self.u16(bytes, tables["maxp"]!.lowerBound + 4))
        let metrics = Int(Self.u16(bytes, hhea + 34))
        let hmtx = tables["hmtx"]!.lowerBound
        var advances: [Int] = []
        for glyph in 0..<glyphCount {
            advances.append(Int(Self.u16(bytes, hmtx + 4 * min(glyph, metrics - 1))))
        }
        self.advances = advances
        let longOffsets = Self.u16(bytes, head + 50) == 1
        let loca = tables["loca"]!.lowerBound, glyf = tables["glyf"]!.lowerBound
        let offset = { (glyph: Int) in
            longOffsets ? Int(Self.u32(bytes, loca + 4 * glyph)) : Int(Self.u16(bytes, loca + 2 * glyph)) * 2
        }
        outlines = (0..<glyphCount).map { glyf + offset($0)..<glyf + offset($0 + 1) }
        glyphs = try Self.characterMap(bytes, tables["cmap"]!)
    }

    /// The Windows Unicode BMP subtable (format 4).
    private static func characterMap(_ bytes: [UInt8], _ table: Range<Int>) throws -> [UInt32: UInt16] {
        let start = table.lowerBound
        var subtable: Int?
        for index in 0..<Int(u16(bytes, start + 2)) {
            let record = start + 4 + 8 * index
            if u16(bytes, record) == 3, u16(bytes, record + 2) == 1 { subtable = start + Int(u32(bytes, record + 4)) }
        }
        guard let subtable, u16(bytes, subtable) == 4 else { throw Malformed(description: "no format 4 cmap") }
        let segments = Int(u16(bytes, subtable + 6)) / 2
        let ends = subtable + 14, starts = ends + 2 * segments + 2
        let deltas = starts + 2 * segments, rangeOffsets = deltas + 2 * segments
        var map: [UInt32: UInt16] = [:]
        for segment in 0..<segments {
            let end = u16(bytes, ends + 2 * segment), first = u16(bytes, starts + 2 * segment)
            let delta = u16(bytes, deltas + 2 * segment), rangeOffset = Int(u16(bytes, rangeOffsets + 2 * segment))
            guard first != 0xFFFF, first <= end else { continue }
            for code in first...end {
                var glyph: UInt16
                if rangeOffset == 0 {
                    glyph = code &+ delta
                } else {
                    let at = rangeOffsets + 2 * segment + rangeOffset + 2 * Int(code - first)
                    glyph = u16(bytes, at)
                    if glyph != 0 { glyph = glyph &+ delta }
                }
                if glyph != 0 { map[UInt32(code)] = glyph }
            }
        }
        return map
    }

    func glyph(for scalar: Unicode.Scalar) -> UInt16 { glyphs[scalar.value] ?? 0 }

    /// Width of `text` at `size` points.
    func width(_ text: String, size: Double) -> Double {
        Double(text.unicodeScalars.reduce(0) { $0 + advances[Int(glyph(for: $1))] }) * size / Double(unitsPerEm)
    }

    /// A TrueType file with only `used` glyphs (and those composite glyphs draw from, and glyph 0)
    /// outlined; glyph ids are unchanged, so a PDF maps its codes to them one to one.
    func subset(_ used: Set<UInt16>) -> [UInt8] {
        var keep = used.union([0])
        var pending = Array(keep)
        while let glyph = pending.popLast() {
            for component in components(of: Int(glyph)) where keep.insert(component).inserted {
                pending.append(component)
            }
        }
        var glyf: [UInt8] = []
        var loca: [UInt8] = []
        for glyph in 0..<glyphCount {
            Self.append32(&loca, UInt32(glyf.count))
            if keep.contains(UInt16(glyph)) {
                glyf += data[outlines[glyph]]
                while glyf.count % 4 != 0 { glyf.append(0) }
            }
        }
        Self.append32(&loca, UInt32(glyf.count))
        var head = Array(data[tables["head"]!])
        head[8..<12] = [0, 0, 0, 0] // checkSumAdjustment: not recomputed, PDF readers ignore it
        head[50..<52] = [0, 1] // long loca offsets
        var out: [String: [UInt8]] = ["head": head, "glyf": glyf, "loca": loca]
        for tag in ["hhea", "maxp", "hmtx", "cvt ", "fpgm", "prep"] {
            if let range = tables[tag] { out[tag] = Array(data[range]) }
        }
        return Self.file(out)
    }

    /// Glyph ids a composite glyph is drawn from.
    private func components(of glyph: Int) -> [UInt16] {
        let range = outlines[glyph]
        guard range.count >= 10, Int16(bitPattern: Self.u16(data, range.lowerBound)) < 0 else { return [] }
        var result: [UInt16] = []
        var at = range.lowerBound + 10
        while at + 4 <= range.upperBound {
            let flags = Self.u16(data, at)
            result.append(Self.u16(data, at + 2))
            at += 4 + (flags & 0x0001 != 0 ? 4 : 2)
            if flags & 0x0008 != 0 {
                at += 2
            } else if flags & 0x0040 != 0 {
                at += 4
            } else if flags & 0x0080 != 0 {
                at += 8
            }
            guard flags & 0x0020 != 0 else { break }
        }
        return result
    }

    /// An sfnt file of `tables`, sorted by tag, each 4-byte aligned with its checksum.
    private static func file(_ tables: [String: [UInt8]]) -> [UInt8] {
        let tags = tables.keys.sorted()
        var power = 1, exponent = 0
        while power * 2 <= tags.count { (power, exponent) = (power * 2, exponent + 1) }
        var out: [UInt8] = [0, 1, 0, 0]
        append16(&out, UInt16(tags.count))
        append16(&out, UInt16(power * 16))
        append16(&out, UInt16(exponent))
        append16(&out, UInt16(tags.count * 16 - power * 16))
        var offset = 12 + 16 * tags.count
        var body: [UInt8] = []
        for tag in tags {
            let table = tables[tag]!
            out += Array(tag.utf8)
            append32(&out, checksum(table))
            append32(&out, UInt32(offset))
            append32(&out, UInt32(table.count))
            body += table
            while body.count % 4 != 0 { body.append(0) }
            offset = 12 + 16 * tags.count + body.count
        }
        return out + body
    }

    private static func checksum(_ table: [UInt8]) -> UInt32 {
        var sum: UInt32 = 0
        var index = 0
        while index < table.count {
            var word: UInt32 = 0
            for byte in 0..<4 { word = word << 8 | UInt32(index + byte < table.count ? table[index + byte] : 0) }
            sum = sum &+ word
            index += 4
        }
        return sum
    }

    static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(u16(bytes, at)) << 16 | UInt32(u16(bytes, at + 2))
    }
    static func append16(_ bytes: inout [UInt8], _ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func append32(_ bytes: inout [UInt8], _ value: UInt32) {
        append16(&bytes, UInt16(value >> 16))
        append16(&bytes, UInt16(value & 0xffff))
    }
}
