import Foundation
import PropertyBased
import Testing
import TollgateCore

@testable import TollgateWeb

@Suite struct HTMLTests {
    @Test func textAndAttributeValuesAreEscapedAndNamesAreOurs() {
        let evil = #"<img src=x onerror="alert(1)"> & 'quotes'"#
        let html = el("p", ["title": evil, "hidden": "", "data-none": nil]) { evil }
        #expect(
            html.rendered
                == #"<p title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;quotes&#39;" hidden="">"#
                + "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;quotes&#39;</p>")
        #expect(el("input", ["name": "a"]).rendered == #"<input name="a">"#)
        #expect(el("br").rendered == "<br>")
    }

    /// Whatever the text, the element holds exactly it: no tag can come from data. The text mixes
    /// scalars of every class a browser may meet, so the five specials also arrive inside grapheme
    /// clusters (after a prepended mark, before a combining one, in a ZWJ sequence).
    @Test func anyTextStaysText() async {
        await propertyCheck(count: 1000, input: Self.anyText, Self.anyText) { content, attribute in
            let rendered = el("span", ["title": attribute]) { content }.rendered
            #expect(rendered == "<span title=\"\(HTMLText.escape(attribute))\">\(HTMLText.escape(content))</span>")
            for text in [content, attribute] {
                let escaped = HTMLText.escape(text)
                #expect(!escaped.unicodeScalars.contains { "<>\"'".unicodeScalars.contains($0) })
                #expect(Self.unescape(escaped).unicodeScalars.elementsEqual(text.unicodeScalars))
            }
            #expect(rendered.unicodeScalars.filter { $0 == "\"" }.count == 2)
            #expect(rendered.unicodeScalars.filter { $0 == "<" }.count == 2)
        }
    }

    /// The reported bypasses, each a single `Character` that holds a special scalar.
    @Test func specialsInsideGraphemeClustersAreEscaped() {
        #expect(HTMLText.escape("\"\u{301}") == "&quot;\u{301}")
        #expect(HTMLText.escape("\u{600}<meta>") == "\u{600}&lt;meta&gt;")
        #expect(HTMLText.escape("'\u{200D}\u{1F468}") == "&#39;\u{200D}\u{1F468}")
        #expect(HTMLText.escape("&\u{FE0F}") == "&amp;\u{FE0F}")
    }

    /// Scalars a page can meet: the five specials and their neighbours, combining marks, prepended
    /// concatenation marks, joiners and variation selectors, emoji and flags, Hangul jamo, controls,
    /// bidirectional overrides, noncharacters; and half the time any scalar at all.
    static let markedScalars: [Unicode.Scalar] = [
        "<", ">", "\"", "'", "&", "=", "/", " ", "\n", "\r", "\t", "\0", "\u{7F}", "\u{301}", "\u{338}", "\u{20D2}",
        "\u{600}", "\u{605}", "\u{6DD}", "\u{70F}", "\u{110BD}", "\u{200D}", "\u{200C}", "\u{FE0F}", "\u{E0100}",
        "\u{1F468}", "\u{1F1EB}", "\u{1F1F7}", "\u{1100}", "\u{1161}", "\u{11A8}", "\u{202E}", "\u{2066}", "\u{FEFF}",
        "\u{FFFF}", "\u{10FFFF}", "\u{FF1C}", "\u{2039}",
    ]

    static let anyScalar = Gen<UInt32>.value(in: 0...UInt32.max).map { bits -> Unicode.Scalar in
        if bits & 1 == 0 { return markedScalars[Int(bits >> 1) % markedScalars.count] }
        return Unicode.Scalar((bits >> 1) % 0x11_0000) ?? "\u{FFFD}" // surrogates have no scalar
    }

    static let anyText = anyScalar.array(of: 0...24).map { scalars in
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        return String(text)
    }

    /// The five entities read back, scalar by scalar (a `String` search would compare grapheme
    /// clusters, and `&quot;` followed by a combining mark would not match).
    static func unescape(_ html: String) -> String {
        let entities: [(String.UnicodeScalarView, Unicode.Scalar)] = [
            ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&"),
        ].map { ($0.0.unicodeScalars, $0.1) }
        var text = String.UnicodeScalarView()
        var rest = html.unicodeScalars[...]
        while let first = rest.first {
            if let (entity, scalar) = entities.first(where: { rest.starts(with: $0.0) }) {
                text.append(scalar)
                rest = rest.dropFirst(entity.count)
            } else {
                text.append(first)
                rest = rest.dropFirst()
            }
        }
        return String(text)
    }

    @Test func builderJoinsConditionsAndLoops() {
        let flag = true
        let html = el("ul") {
            for item in ["a", "<b>"] { el("li") { item } }
            if flag { el("li") { "yes" } } else { el("li") { "no" } }
        }
        #expect(html.rendered == "<ul><li>a</li><li>&lt;b&gt;</li><li>yes</li></ul>")
    }

    @Test func pagesCarryTheLanguageTheCSRFTokenAndNoInlineCode() {
        let frame = ConsoleFrame(
            locale: "fr", operatorEmail: "o@example.com", role: .support, csrfToken: "csrf_abc", section: "customers",
            path: "/console/customers?query=a")
        let page = frame.page(title: "Clients") {
            frame.form("/console/x") { el("button") { "Go" } }
        }
        #expect(page.hasPrefix("<!DOCTYPE html>\n<html lang=\"fr\">"))
        #expect(page.components(separatedBy: #"name="csrf" value="csrf_abc""#).count == 3) // sign-out and the form
        #expect(page.contains(#"href="/console/customers?query=a&amp;lang=en""#))
        #expect(page.contains(#"aria-current="page""#) && page.contains("Se déconnecter"))
        #expect(!page.contains("<script>") && !page.contains("style=") && !page.contains("onclick"))
        #expect(ConsoleFrame(locale: "de").locale == "en")
    }
}

@Suite struct LexiconTests {
    @Test func everyWordExistsInEveryLanguage() {
        let english = Lexicon.keys("en")
        #expect(english.count > 400, "the words were loaded")
        for language in Lexicon.locales {
            let keys = Lexicon.keys(language)
            #expect(english.subtracting(keys).isEmpty, "\(language) lacks \(english.subtracting(keys).sorted())")
            #expect(keys.subtracting(english).isEmpty, "\(language) alone has \(keys.subtracting(english).sorted())")
        }
        #expect(Lexicon.word("no such key", locale: "fr") == "no such key", "never a placeholder")
        #expect(Lexicon.preferred(acceptLanguage: "fr-FR,fr;q=0.9,en;q=0.8") == "fr")
        #expect(Lexicon.preferred(acceptLanguage: "de-DE,fr;q=0.5") == "en")
        #expect(Lexicon.preferred(acceptLanguage: nil) == "en")
    }
}

@Suite struct FormatsTests {
    @Test func moneyIsWrittenFromIntegersTheWayEachLanguageWritesIt() {
        let eur = Currency("EUR")!, jpy = Currency("JPY")!, kwd = Currency("KWD")!
        #expect(Formats.money(123_456_789, eur, locale: "en") == "1,234,567.89 EUR")
        #expect(Formats.money(123_456_789, eur, locale: "fr") == "1\u{202F}234\u{202F}567,89 EUR")
        #expect(Formats.money(-5, eur, locale: "en") == "−0.05 EUR")
        #expect(Formats.money(1500, jpy, locale: "en") == "1,500 JPY")
        #expect(Formats.money(1005, kwd, locale: "en") == "1.005 KWD")
        #expect(Formats.money(Int64.min, eur, locale: "en") == "−92,233,720,368,547,758.08 EUR")
        #expect(Formats.percent(0.125, locale: "en") == "12.5%" && Formats.percent(0.125, locale: "fr") == "12,5 %")
        #expect(Formats.percent(nil, locale: "en") == "—" && Formats.percent(.nan, locale: "en") == "—")
        #expect(Formats.number(999, locale: "en") == "999" && Formats.number(1000, locale: "en") == "1,000")
        let date = Date(timeIntervalSince1970: 1_764_489_900) // 2025-11-30 08:05 UTC
        #expect(Formats.time(date) == "2025-11-30 08:05 UTC")
        #expect(Formats.month(date, locale: "en") == "Nov 2025" && Formats.month(date, locale: "fr") == "nov. 2025")
    }
}

@Suite struct SVGChartTests {
    @Test func everyPointHasItsTitleAndLabelsAreText() {
        let points = [
            SVGChart.Point(label: "<Jan>", value: 10, text: "10 €"),
            SVGChart.Point(label: "Feb", value: -4, text: "−4 €"),
            SVGChart.Point(label: "Mar", value: 0, text: "0 €"),
        ]
        let bars = SVGChart.bars(points, title: "MRR & co", axis: { "\($0)" }).rendered
        #expect(bars.hasPrefix("<svg class=\"chart\""))
        #expect(bars.contains("<title>MRR &amp; co</title>") && !bars.contains("<Jan>"))
        #expect(bars.contains("<title>&lt;Jan&gt;: 10 €</title>") && bars.contains("<title>Feb: −4 €</title>"))
        #expect(bars.components(separatedBy: "class=\"bar negative\"").count == 2)
        #expect(bars.components(separatedBy: "<rect").count == 4)
        let line = SVGChart.line(points, title: "t", axis: { "\($0)" }).rendered
        #expect(line.components(separatedBy: "<circle").count == 4 && line.contains("<polyline"))
        // Nothing to draw is still a chart, not a division by zero.
        let empty = SVGChart.line([], title: "none", axis: { "\($0)" }).rendered
        #expect(empty.contains("<title>none</title>") && !empty.contains("nan"))
        #expect(SVGChart.format(12.345) == "12.3" && SVGChart.format(-0.25) == "-0.3" && SVGChart.format(3) == "3")
    }
}

/// The words the code asks for and the words the files hold are the same set: a key asked for
/// and missing, or held and never asked for, fails here. Keys are found as the code writes them:
/// a literal (`t("save")`, a table's headers), or a family by its prefix (`t("status_" + value)`,
/// `word("denial", code)`).
@Suite struct LexiconKeyTests {
    static var sources: [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var texts: [String] = []
        for module in ["Sources/TollgateWeb", "Sources/TollgateServer"] {
            let directory = root.appendingPathComponent(module)
            let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
            while let file = files?.nextObject() as? URL {
                guard file.pathExtension == "swift", let text = try? String(contentsOf: file, encoding: .utf8) else {
                    continue
                }
                texts.append(text)
            }
        }
        return texts
    }

    @Test func everyKeyAskedForExistsAndEveryKeyHeldIsAskedFor() {
        let code = Self.sources.joined(separator: "\n")
        #expect(code.count > 100_000, "the sources were read")
        // Literals asked for by name.
        let asked = Set(code.matches(of: /\bt\("([a-z][a-z0-9_]*)"\)/).map { String($0.1) })
        // Every identifier-like literal: table headers and key lists are arrays of them.
        let literals = Set(code.matches(of: /"([a-z][a-z0-9_]*)"/).map { String($0.1) })
        // Families: a prefix joined to a value (`"status_" + x`, `"notice_" + x`, `word("kind", x)`).
        var families = Set(code.matches(of: /"([a-z][a-z0-9_]*_)"\s*\+/).map { String($0.1) })
        families.formUnion(code.matches(of: /\bword\("([a-z][a-z0-9_]*)"/).map { String($0.1) + "_" })
        families.formUnion(code.matches(of: /"([a-z][a-z0-9_]*_)\\\(/).map { String($0.1) })
        // Suffixes joined to a key (`t(title + "_intro")`): a held key made of a held stem and one
        // of them is asked for.
        let suffixes = Set(code.matches(of: /\+\s*"(_[a-z][a-z0-9_]*)"/).map { String($0.1) })
        let held = Lexicon.keys("en")
        let suffixed = Set(
            held.filter { key in
                suffixes.contains { key.hasSuffix($0) && held.contains(String(key.dropLast($0.count))) }
            })
        let missing = asked.subtracting(held)
        #expect(missing.isEmpty, "asked for and missing: \(missing.sorted())")
        let unused = held.filter { key in
            !literals.contains(key) && !families.contains { key.hasPrefix($0) } && !suffixed.contains(key)
        }
        #expect(unused.isEmpty, "held and never asked for: \(unused.sorted())")
    }

    /// The one-click pages ask for `<title>_intro`: their words read as words in both languages.
    @Test(arguments: ["en", "fr"])
    func oneClickPagesSayWhatTheClickDoes(locale: String) {
        let frame = ConsoleFrame(locale: locale, csrfToken: nil, section: "", path: "/", productName: "P")
        for page in [frame.portalVerifyPage(token: "t"), frame.portalConfirmEmailPage(token: "t")] {
            #expect(
                !page.contains("_intro") && page.contains(locale == "fr" ? "Un clic confirme" : "One click confirms"))
        }
    }
}
