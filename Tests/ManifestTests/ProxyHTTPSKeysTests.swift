import DevhostManifest
import Testing

/// `proxy.https_port` and `proxy.https`: read, defaulted, and refused with their key and position.
@Suite struct ProxyHTTPSKeysTests {
    @Test func portAndModeAreRead() throws {
        let both = try load("proxy: { https_port: 8443, https: both }\nservices:\n  web: { command: ./run }\n")
        #expect(both.proxy.httpsPort == 8443)
        #expect(both.proxy.https == .both)
        let off = try load("proxy: { https_port: 0, https: off }\nservices:\n  web: { command: ./run }\n")
        #expect(off.proxy.httpsPort == 0)
        #expect(off.proxy.https == .off)
    }

    @Test func notSetMeansTheDefaultPortAndPrefer() throws {
        let manifest = try load("services:\n  web: { command: ./run }\n")
        #expect(manifest.proxy.httpsPort == nil)
        #expect(manifest.proxy.https == .prefer)
    }

    @Test func badValuesNameTheirKeyAndPosition() throws {
        let found = try issues("proxy:\n  https: sometimes\n  https_port: 70000\nservices:\n  web: { command: ./run }\n")
        #expect(
            found.map(\.description).sorted() == [
                "proxy.https: \"sometimes\" is not an https mode (prefer, both, off) (devhost.yml:2:10)",
                "proxy.https_port: 70000 is out of range (0...65535) (devhost.yml:3:15)",
            ], "\(found)")
    }
}
