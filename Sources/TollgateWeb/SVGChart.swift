/// Charts drawn on the server as SVG: axes, labels, and a `<title>` per point that browsers show
/// on hover. Colours come from the stylesheet's classes (light and dark).
public enum SVGChart {
    public struct Point: Sendable {
        public let label: String
        public let value: Int64
        /// What the hover title says of it.
        public let text: String

        public init(label: String, value: Int64, text: String) {
            self.label = label
            self.value = value
            self.text = text
        }
    }

    static let width = 640.0, height = 220.0
    static let left = 96.0, right = 12.0, top = 14.0, bottom = 36.0

    /// A line over the points, oldest first.
    public static func line(_ points: [Point], title: String, axis: (Int64) -> String) -> HTML {
        frame(points, title: title, axis: axis) { scale in
            let coordinates = points.enumerated().map { index, point in
                (x: scale.x(index), y: scale.y(point.value), point: point)
            }
            let path = coordinates.map { "\(format($0.x)),\(format($0.y))" }.joined(separator: " ")
            return HTMLBuilder.buildArray(
                [el("polyline", ["class": "series", "points": path, "fill": "none"])]
                    + coordinates.map { c in
                        el("circle", ["class": "dot", "cx": format(c.x), "cy": format(c.y), "r": "3.5"]) {
                            el("title") { "\(c.point.label): \(c.point.text)" }
                        }
                    })
        }
    }

    /// Bars, one per point (negative values below the axis).
    public static func bars(_ points: [Point], title: String, axis: (Int64) -> String) -> HTML {
        frame(points, title: title, axis: axis) { scale in
            let slot = (width - left - right) / Double(max(points.count, 1))
            return HTMLBuilder.buildArray(
                points.enumerated().map { index, point in
                    let zero = scale.y(0), y = scale.y(point.value)
                    return el(
                        "rect",
                        [
                            "class": point.value < 0 ? "bar negative" : "bar",
                            "x": format(left + Double(index) * slot + slot * 0.15), "y": format(min(y, zero)),
                            "width": format(slot * 0.7), "height": format(abs(zero - y)),
                        ]
                    ) { el("title") { "\(point.label): \(point.text)" } }
                })
        }
    }

    struct Scale {
        let count: Int
        let low: Double
        let high: Double

        func x(_ index: Int) -> Double {
            let slot = (SVGChart.width - SVGChart.left - SVGChart.right) / Double(max(count, 1))
            return SVGChart.left + slot * (Double(index) + 0.5)
        }

        func y(_ value: Int64) -> Double {
            let span = high - low
            let share = span == 0 ? 0 : (Double(value) - low) / span
            return SVGChart.height - SVGChart.bottom - share * (SVGChart.height - SVGChart.top - SVGChart.bottom)
        }
    }

    /// Round ticks covering `low`…`high`: a step of 1, 2 or 5 times a power of ten, at most four
    /// steps, from a multiple of the step at or below `low` to one at or above `high`.
    public static func ticks(low: Int64, high: Int64) -> [Int64] {
        let span = max(high - low, 1)
        var magnitude: Int64 = 1
        var step: Int64 = 1
        search: while true {
            for factor: Int64 in [1, 2, 5] where factor * magnitude * 4 >= span {
                step = factor * magnitude
                break search
            }
            magnitude *= 10
        }
        let start = low >= 0 ? low / step * step : -((-low + step - 1) / step * step)
        var ticks = [start]
        while ticks.last! < high { ticks.append(ticks.last! + step) }
        if ticks.count == 1 { ticks.append(start + step) }
        return ticks
    }

    private static func frame(
        _ points: [Point], title: String, axis: (Int64) -> String, @HTMLBuilder marks: (Scale) -> HTML
    ) -> HTML {
        let values = points.map(\.value)
        let ticks = Self.ticks(low: min(0, values.min() ?? 0), high: values.max() ?? 0)
        let low = ticks.first!
        let scale = Scale(count: points.count, low: Double(low), high: Double(ticks.last!))
        let every = points.count <= 6 ? 1 : (points.count + 3) / 4
        return el(
            "svg",
            [
                "class": "chart", "viewBox": "0 0 \(Int(width)) \(Int(height))", "role": "img",
                "aria-label": title, "xmlns": "http://www.w3.org/2000/svg",
            ]
        ) {
            el("title") { title }
            el(
                "line",
                [
                    "class": "axis", "x1": format(left), "y1": format(scale.y(low)), "x2": format(width - right),
                    "y2": format(scale.y(low)),
                ])
            for tick in ticks {
                el(
                    "line",
                    [
                        "class": "grid", "x1": format(left), "y1": format(scale.y(tick)), "x2": format(width - right),
                        "y2": format(scale.y(tick)),
                    ])
                el(
                    "text",
                    ["class": "tick", "x": format(left - 6), "y": format(scale.y(tick) + 4), "text-anchor": "end"]
                ) { axis(tick) }
            }
            for (index, point) in points.enumerated() where index % every == 0 {
                el(
                    "text",
                    [
                        "class": "tick", "x": format(scale.x(index)), "y": format(height - bottom + 18),
                        "text-anchor": "middle",
                    ]
                ) { point.label }
            }
            marks(scale)
        }
    }

    static func format(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        let whole = Int(tenths / 10), fraction = Int(abs(tenths.truncatingRemainder(dividingBy: 10)))
        return fraction == 0 ? "\(whole)" : "\(tenths < 0 && whole == 0 ? "-" : "")\(whole).\(fraction)"
    }
}
