import Foundation

/// A PDF 1.7 file assembled object by object (ISO 32000-1 §7): uncompressed streams, a classic
/// cross-reference table, nothing that depends on the time or chance, so the same document
/// always gives the same bytes.
struct PDFWriter {
    private var objects: [[UInt8]?] = []

    /// A number for an object written later (pages refer to their parent before it exists).
    mutating func reserve() -> Int {
        objects.append(nil)
        return objects.count
    }

    mutating func set(_ id: Int, _ body: String) { objects[id - 1] = Array(body.utf8) }

    @discardableResult
    mutating func add(_ body: String) -> Int {
        objects.append(Array(body.utf8))
        return objects.count
    }

    @discardableResult
    mutating func addStream(_ content: [UInt8], dictionary: String = "") -> Int {
        let head = "<< /Length \(content.count)\(dictionary.isEmpty ? "" : " " + dictionary) >>\nstream\n"
        objects.append(Array(head.utf8) + content + Array("\nendstream".utf8))
        return objects.count
    }

    func bytes(root: Int, info: Int) -> [UInt8] {
        var out = Array("%PDF-1.7\n%".utf8) + [0xE2, 0xE3, 0xCF, 0xD3, 0x0A]
        var offsets: [Int] = []
        for (index, body) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n".utf8) + (body ?? Array("null".utf8)) + Array("\nendobj\n".utf8)
        }
        let xref = out.count
        var table = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { table += String(format: "%010d 00000 n \n", offset) }
        table += "trailer\n<< /Size \(objects.count + 1) /Root \(root) 0 R /Info \(info) 0 R >>\n"
        table += "startxref\n\(xref)\n%%EOF\n"
        return out + Array(table.utf8)
    }

    /// A PDF text string: UTF-16BE with its byte-order mark, in hex (any character, no escaping).
    static func text(_ string: String) -> String {
        "<FEFF" + string.utf16.map { String(format: "%04X", $0) }.joined() + ">"
    }
}

/// One embedded font: the glyphs a document used, written as a Type 0 font with Identity-H
/// encoding over a TrueType subset, and a ToUnicode map so the text can be copied and searched.
final class PDFFont {
    let font: TrueTypeFont
    let resourceName: String
    private let baseName: String
    private(set) var used: [UInt16: Unicode.Scalar] = [:]

    init(_ font: TrueTypeFont, resourceName: String, baseName: String) {
        self.font = font
        self.resourceName = resourceName
        self.baseName = baseName
    }

    /// The string as glyph ids in hex, for `Tj`; records the glyphs used.
    func encode(_ string: String) -> String {
        var hex = "<"
        for scalar in string.unicodeScalars {
            let glyph = font.glyph(for: scalar)
            if used[glyph] == nil { used[glyph] = scalar }
            hex += String(format: "%04X", glyph)
        }
        return hex + ">"
    }

    /// Writes the font's objects; the number of its Type 0 dictionary.
    func write(into pdf: inout PDFWriter) -> Int {
        let glyphs = used.keys.sorted()
        // The subset's tag: six capitals derived from the glyphs (ISO 32000-1 §9.6.4).
        var hash: UInt32 = 2_166_136_261
        for glyph in glyphs { hash = (hash ^ UInt32(glyph)) &* 16_777_619 }
        let tag = String((0..<6).map { Character(UnicodeScalar(65 + UInt8((hash >> (5 * $0)) % 26))) })
        let name = "\(tag)+\(baseName)"
        let file = font.subset(Set(glyphs))
        let fontFile = pdf.addStream(file, dictionary: "/Length1 \(file.count)")
        let scale = { (value: Int) in value * 1000 / self.font.unitsPerEm }
        let box = font.boundingBox.map { String(scale($0)) }.joined(separator: " ")
        let descriptor = pdf.add(
            "<< /Type /FontDescriptor /FontName /\(name) /Flags 32 /FontBBox [\(box)]"
                + " /ItalicAngle 0 /Ascent \(scale(font.ascent)) /Descent \(scale(font.descent))"
                + " /CapHeight \(scale(font.capHeight)) /StemV 80 /FontFile2 \(fontFile) 0 R >>")
        let widths = glyphs.map { "\($0) [\(scale(font.advances[Int($0)]))]" }.joined(separator: " ")
        let cidFont = pdf.add(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /\(name)"
                + " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
                + " /FontDescriptor \(descriptor) 0 R /CIDToGIDMap /Identity /W [\(widths)] >>")
        let toUnicode = pdf.addStream(Array(unicodeMap(glyphs).utf8))
        return pdf.add(
            "<< /Type /Font /Subtype /Type0 /BaseFont /\(name) /Encoding /Identity-H"
                + " /DescendantFonts [\(cidFont) 0 R] /ToUnicode \(toUnicode) 0 R >>")
    }

    private func unicodeMap(_ glyphs: [UInt16]) -> String {
        var map = """
            /CIDInit /ProcSet findresource begin
            12 dict begin
            begincmap
            /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
            /CMapName /Adobe-Identity-UCS def
            /CMapType 2 def
            1 begincodespacerange
            <0000> <FFFF>
            endcodespacerange

            """
        for start in stride(from: 0, to: glyphs.count, by: 100) {
            let chunk = glyphs[start..<min(start + 100, glyphs.count)]
            map += "\(chunk.count) beginbfchar\n"
            for glyph in chunk {
                let unicode = String(used[glyph]!).utf16.map { String(format: "%04X", $0) }.joined()
                map += String(format: "<%04X> <", glyph) + unicode + ">\n"
            }
            map += "endbfchar\n"
        }
        return map + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    }
}
