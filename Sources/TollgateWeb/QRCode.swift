/// A QR code (ISO/IEC 18004, model 2) of some text in byte mode at error correction level M, drawn
/// as SVG by Tollgate itself: the TOTP enrolment links (`otpauth://…`) of the console and the
/// portal. Versions 1 to 20 (up to 666 bytes); longer text is refused. The construction follows
/// Project Nayuki's public-domain reference, and a real decoder (zxing-cpp) reads what it draws.
public struct QRCode: Sendable {
    public let version: Int
    public let size: Int
    public let mask: Int
    /// `modules[y][x]`: true is dark.
    public let modules: [[Bool]]

    public enum Failure: Error, Equatable {
        case tooLong(bytes: Int)
    }

    /// Error correction codewords per block, and blocks, at level M, by version (index 0 unused).
    static let eccPerBlock = [
        -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
    ]
    static let blocks = [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16]
    static let maximumVersion = 20

    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard
            let version = (1...Self.maximumVersion).first(where: {
                4 + ($0 < 10 ? 8 : 16) + 8 * bytes.count <= Self.dataCodewords($0) * 8
            })
        else { throw Failure.tooLong(bytes: bytes.count) }
        var grid = Grid(version: version)
        grid.drawFunctionPatterns()
        grid.drawCodewords(Self.interleaved(Self.dataCodewordsFilled(bytes, version: version), version: version))
        // The mask with the lowest penalty, its format bits drawn before it is scored.
        var best: (penalty: Int, mask: Int, grid: Grid)?
        for mask in 0..<8 {
            var candidate = grid
            candidate.apply(mask: mask)
            candidate.drawFormatBits(mask: mask)
            let penalty = candidate.penalty()
            if best == nil || penalty < best!.penalty { best = (penalty, mask, candidate) }
        }
        self.version = version
        size = grid.size
        mask = best!.mask
        modules = best!.grid.modules
    }

    /// The code as an SVG image with its four-module quiet zone, dark on light whatever the theme.
    public func svg(label: String) -> HTML {
        let side = size + 8
        var path = ""
        for (y, row) in modules.enumerated() {
            for (x, dark) in row.enumerated() where dark { path += "M\(x + 4) \(y + 4)h1v1h-1z" }
        }
        return el(
            "svg",
            [
                "class": "qr", "viewBox": "0 0 \(side) \(side)", "role": "img", "aria-label": label,
                "xmlns": "http://www.w3.org/2000/svg", "shape-rendering": "crispEdges",
            ]
        ) {
            el("rect", ["width": "\(side)", "height": "\(side)", "fill": "#ffffff"])
            el("path", ["d": path, "fill": "#000000"])
        }
    }

    // MARK: Codewords

    static func rawDataModules(_ version: Int) -> Int {
        var result = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignments = version / 7 + 2
            result -= (25 * alignments - 10) * alignments - 55
            if version >= 7 { result -= 36 }
        }
        return result
    }

    static func dataCodewords(_ version: Int) -> Int {
        rawDataModules(version) / 8 - eccPerBlock[version] * blocks[version]
    }

    /// Mode, count, the bytes, a terminator, then the pad bytes 0xEC 0x11 up to the capacity.
    static func dataCodewordsFilled(_ bytes: [UInt8], version: Int) -> [UInt8] {
        var bits: [Bool] = []
        func append(_ value: Int, _ count: Int) {
            for shift in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> shift) & 1 == 1) }
        }
        let capacity = dataCodewords(version) * 8
        append(0b0100, 4)
        append(bytes.count, version < 10 ? 8 : 16)
        for byte in bytes { append(Int(byte), 8) }
        append(0, min(4, capacity - bits.count))
        append(0, (8 - bits.count % 8) % 8)
        var codewords: [UInt8] = stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<start + 8].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
        }
        var pad: UInt8 = 0xEC
        while codewords.count < capacity / 8 {
            codewords.append(pad)
            pad ^= 0xEC ^ 0x11
        }
        return codewords
    }

    /// The data split into blocks, each followed by its Reed–Solomon codewords, interleaved.
    static func interleaved(_ data: [UInt8], version: Int) -> [UInt8] {
        let blockCount = blocks[version], eccLength = eccPerBlock[version]
        let raw = rawDataModules(version) / 8
        let shortBlocks = blockCount - raw % blockCount
        let shortLength = raw / blockCount
        let divisor = ReedSolomon.divisor(degree: eccLength)
        var all: [[UInt8]] = []
        var offset = 0
        for index in 0..<blockCount {
            let length = shortLength - eccLength + (index < shortBlocks ? 0 : 1)
            var block = Array(data[offset..<offset + length])
            offset += length
            let ecc = ReedSolomon.remainder(block, divisor: divisor)
            if index < shortBlocks { block.append(0) }
            all.append(block + ecc)
        }
        var result: [UInt8] = []
        for position in 0..<all[0].count {
            for (index, block) in all.enumerated()
            where position != shortLength - eccLength || index >= shortBlocks {
                result.append(block[position])
            }
        }
        return result
    }
}

/// Reed–Solomon over GF(2⁸) with the polynomial 0x11D.
enum ReedSolomon {
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var z = 0
        for bit in stride(from: 7, through: 0, by: -1) {
            z = (z << 1) ^ ((z >> 7) * 0x11D)
            z ^= ((Int(y) >> bit) & 1) * Int(x)
        }
        return UInt8(z & 0xFF)
    }

    static func divisor(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for index in 0..<degree {
                result[index] = multiply(result[index], root)
                if index + 1 < degree { result[index] ^= result[index + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    static func remainder(_ data: [UInt8], divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for index in result.indices { result[index] ^= multiply(divisor[index], factor) }
        }
        return result
    }
}
