import DevhostManifest
import Testing

/// `${svc.public_url}` and `${svc.public_http_url}`: which URL each names, by the project's HTTPS
/// settings and the listener that serves it, and the errors for references that cannot resolve.
@Suite struct PublicURLTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var mode: HTTPSMode
        /// `proxy.https_port` as the manifest says it (nil: not set).
        var manifestPort: Int?
        /// The port an HTTPS listener serves the project on (nil: none listens).
        var served: Int?
        var publicURL: String
        var testDescription: String {
            "https: \(mode), https_port: \(manifestPort.map(String.init) ?? "-"), served: \(served.map(String.init) ?? "-")"
        }
    }

    static let plain = "http://api.shop.localhost:7777"

    @Test(arguments: [
        Case(mode: .prefer, manifestPort: nil, served: 7443, publicURL: "https://api.shop.localhost:7443"),
        Case(mode: .both, manifestPort: 8443, served: 8443, publicURL: "https://api.shop.localhost:8443"),
        // The shared edge serves HTTPS on its own port, whatever the manifest asked for.
        Case(mode: .prefer, manifestPort: 8443, served: 9443, publicURL: "https://api.shop.localhost:9443"),
        // No listener (7443 was taken): plain.
        Case(mode: .prefer, manifestPort: nil, served: nil, publicURL: plain),
        Case(mode: .both, manifestPort: nil, served: nil, publicURL: plain),
        // The project asked for no HTTPS: plain even where the edge serves it.
        Case(mode: .off, manifestPort: nil, served: 7443, publicURL: plain),
        Case(mode: .prefer, manifestPort: 0, served: 7443, publicURL: plain),
        Case(mode: .both, manifestPort: 0, served: nil, publicURL: plain),
        Case(mode: .prefer, manifestPort: nil, served: 0, publicURL: plain),
    ])
    func publicURLFollowsHTTPS(_ c: Case) {
        var proxy = ProxySettings()
        proxy.https = c.mode
        proxy.httpsPort = c.manifestPort
        let endpoints = PublicEndpoints(proxy: proxy, httpPort: 7777, servedHTTPSPort: c.served)
        #expect(endpoints.url(host: "api.shop.localhost") == c.publicURL)
        #expect(endpoints.httpURL(host: "api.shop.localhost") == Self.plain)
        #expect((endpoints.httpsPort != nil) == c.publicURL.hasPrefix("https://"))
    }

    @Test(arguments: [
        (
            "${api.public_http_url}",
            "services.web.env.CALLBACK: \"${api.public_http_url}\": \"api\" has no route (devhost.yml:8:22)"
        ),
        (
            "${apx.public_http_url}",
            "services.web.env.CALLBACK: \"${apx.public_http_url}\" names unknown service \"apx\" (did you mean \"api\"?) (devhost.yml:8:22)"
        ),
        (
            "${api.public_https_url}",
            "services.web.env.CALLBACK: \"${api.public_https_url}\" is not a service reference (use ${SERVICE.FIELD} with FIELD one of host, port, url, public_url, public_http_url) (devhost.yml:8:22)"
        ),
    ])
    func badReferencesNameTheKeyAndPosition(reference: String, message: String) throws {
        let yaml = """
            name: shop
            services:
              api:
                command: ./api
                route: none
              web:
                command: ./web
                env: { CALLBACK: "\(reference)" }
                route: web
            """
        let found = try issues(yaml)
        #expect(found.map(\.description) == [message], "\(found)")
    }

    @Test func aRoutedServiceValidates() throws {
        let manifest = try load(
            """
            name: shop
            services:
              api: { command: ./api, route: api }
              web: { command: ./web, env: { A: "${api.public_url}", B: "${api.public_http_url}" } }
            """)
        #expect(manifest.service(named: "web")?.env.map(\.value) == ["${api.public_url}", "${api.public_http_url}"])
    }
}
