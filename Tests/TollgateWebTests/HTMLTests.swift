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

    /// Whatever the text, the element holds exactly it: no tag can come from data.
    @Test func anyTextStaysText() async {
        let text = Gen.character(in: "\u{1}"..."\u{2FF}").string(of: 0...40)
        await propertyCheck(count: 500, input: text, text) { content, attribute in
            let rendered = el("span", ["title": attribute]) { content }.rendered
            #expect(rendered == "<span title=\"\(HTMLText.escape(attribute))\">\(HTMLText.escape(content))</span>")
            let inside = rendered.dropFirst("<span title=\"".count)
            #expect(!inside.dropLast("</span>".count).contains("<"))
            #expect(rendered.filter { $0 == "\"" }.count == 2)
        }
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
    @Test func everyWordExistsInBothLanguages() {
        for key in Lexicon.englishKeys.union(Lexicon.frenchKeys) {
            #expect(!Lexicon.word(key, locale: "en").hasPrefix("⟦"), "\(key) has no English")
            #expect(!Lexicon.word(key, locale: "fr").hasPrefix("⟦"), "\(key) has no French")
        }
        #expect(Lexicon.word("no such key", locale: "en") == "⟦no such key⟧")
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
