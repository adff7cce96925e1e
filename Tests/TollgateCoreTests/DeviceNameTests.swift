import Testing
import TollgateCore

/// Devices read as a browser and a system, not a raw user agent.
@Suite struct DeviceNameTests {
    @Test(arguments: [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
                + "Safari/537.36", "Chrome · Linux"
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                + "Version/17.5 Mobile/15E148 Safari/604.1", "Safari · iOS"
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                + "Safari/537.36 Edg/131.0.0.0", "Edge · Windows"
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                + "Mobile Safari/537.36", "Chrome · Android"
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox · macOS"),
        ("curl/8.5.0", "curl"),
    ])
    func aKnownAgentReadsAsBrowserAndSystem(agent: String, expected: String) {
        #expect(DeviceName.describe(agent) == expected)
    }

    @Test func anUnknownAgentIsNotNamed() {
        #expect(DeviceName.describe("Python-urllib/3.11") == nil)
    }
}
