import Foundation

/// Pages of text and rules on A4, in points from the bottom left, written as PDF content
/// streams: the little a document of tables needs.
final class PDFCanvas {
    static let width = 595.28
    static let height = 841.89
    static let margin = 50.0

    enum Weight { case regular, bold }
    enum Alignment { case left, right }

    let regular: PDFFont
    let bold: PDFFont
    private var pages: [String] = []
    private var current = ""

    init(regular: TrueTypeFont, bold: TrueTypeFont) {
        self.regular = PDFFont(regular, resourceName: "F1", baseName: "DejaVuSans")
        self.bold = PDFFont(bold, resourceName: "F2", baseName: "DejaVuSans-Bold")
    }

    private func font(_ weight: Weight) -> PDFFont { weight == .bold ? bold : regular }

    func width(_ text: String, size: Double, weight: Weight = .regular) -> Double {
        font(weight).font.width(text, size: size)
    }

    func text(
        _ string: String, x: Double, y: Double, size: Double, weight: Weight = .regular, align: Alignment = .left,
        gray: Double = 0
    ) {
        guard !string.isEmpty else { return }
        let start = align == .right ? x - width(string, size: size, weight: weight) : x
        let font = font(weight)
        current += "BT \(Self.number(gray)) g /\(font.resourceName) \(Self.number(size)) Tf "
        current += "\(Self.number(start)) \(Self.number(y)) Td \(font.encode(string)) Tj ET\n"
    }

    func rule(from x1: Double, to x2: Double, y: Double, thickness: Double = 0.5) {
        current += "\(Self.number(thickness)) w 0.6 G \(Self.number(x1)) \(Self.number(y)) m "
        current += "\(Self.number(x2)) \(Self.number(y)) l S\n"
    }

    /// Words of `text` in lines no wider than `width` (a word longer than that is cut).
    func wrap(_ text: String, width: Double, size: Double, weight: Weight = .regular) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            let candidate = line.isEmpty ? word : line + " " + word
            if self.width(candidate, size: size, weight: weight) <= width {
                line = candidate
                continue
            }
            if !line.isEmpty { lines.append(line) }
            var rest = word
            while self.width(rest, size: size, weight: weight) > width, rest.count > 1 {
                var cut = rest.count - 1
                while cut > 1, self.width(String(rest.prefix(cut)), size: size, weight: weight) > width { cut -= 1 }
                lines.append(String(rest.prefix(cut)))
                rest = String(rest.dropFirst(cut))
            }
            line = rest
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    func newPage() {
        if !current.isEmpty { pages.append(current) }
        current = ""
    }

    var pageCount: Int { pages.count + (current.isEmpty ? 0 : 1) }

    /// The document: `footer(page, pages)` drawn on each page; `title` in its information.
    func document(title: String, footer: (Int, Int) -> String) -> [UInt8] {
        newPage()
        var pdf = PDFWriter()
        let catalog = pdf.reserve()
        let pageTree = pdf.reserve()
        let pageIds = pages.map { _ in pdf.reserve() }
        var contents: [Int] = []
        for (index, body) in pages.enumerated() {
            let footerText = footer(index + 1, pages.count)
            let font = regular
            let line =
                "BT 0.4 g /\(font.resourceName) 7.5 Tf \(Self.number(Self.margin)) 28 Td "
                + "\(font.encode(footerText)) Tj ET\n"
            contents.append(pdf.addStream(Array((body + line).utf8)))
        }
        let fonts = "/F1 \(regular.write(into: &pdf)) 0 R /F2 \(bold.write(into: &pdf)) 0 R"
        for (index, id) in pageIds.enumerated() {
            pdf.set(
                id,
                "<< /Type /Page /Parent \(pageTree) 0 R"
                    + " /MediaBox [0 0 \(Self.number(Self.width)) \(Self.number(Self.height))]"
                    + " /Resources << /Font << \(fonts) >> >> /Contents \(contents[index]) 0 R >>")
        }
        pdf.set(
            pageTree,
            "<< /Type /Pages /Kids [\(pageIds.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pageIds.count) >>")
        pdf.set(catalog, "<< /Type /Catalog /Pages \(pageTree) 0 R >>")
        let info = pdf.add("<< /Title \(PDFWriter.text(title)) /Producer (Tollgate) >>")
        return pdf.bytes(root: catalog, info: info)
    }

    /// Two decimals at most, no exponent: `12.5`, `0.6`.
    static func number(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }
}
