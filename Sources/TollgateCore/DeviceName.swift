/// A device in words from its user agent ("Chrome on Linux"), for a list of signed-in devices:
/// a person recognises a browser and a system, not a raw header.
public enum DeviceName {
    /// Nil when the header names nothing known (the raw value is then shown as it is).
    public static func describe(_ userAgent: String) -> String? {
        // Order matters: Edge and Opera say "Chrome", Chrome says "Safari", Android says "Linux".
        let browsers: [(token: String, name: String)] = [
            ("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("HeadlessChrome/", "Chrome"),
            ("Chrome/", "Chrome"), ("CriOS/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"),
        ]
        let systems: [(token: String, name: String)] = [
            ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
        ]
        let browser = browsers.first { userAgent.contains($0.token) }?.name
        let system = systems.first { userAgent.contains($0.token) }?.name
        switch (browser, system) {
        case (let browser?, let system?): return "\(browser) · \(system)"
        case (let browser?, nil): return browser
        case (nil, let system?): return system
        case (nil, nil): return nil
        }
    }
}
