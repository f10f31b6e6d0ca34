/// Where browsers reach a project's routes: the proxy's plain port and, when HTTPS serves the
/// project, its HTTPS port. It decides `${svc.public_url}` (https when HTTPS is on),
/// `${svc.public_http_url}` (always the plain URL), and the links `status` and the dashboard show.
public struct PublicEndpoints: Sendable, Equatable {
    public var httpPort: Int
    /// nil: no HTTPS for this project; the public URLs are plain.
    public var httpsPort: Int?

    public init(httpPort: Int, httpsPort: Int?) {
        self.httpPort = httpPort
        self.httpsPort = httpsPort
    }

    /// `servedHTTPSPort` is the port an HTTPS listener serves the project on (its own, or the shared
    /// edge's), nil when none listens. `proxy.https: off` and `proxy.https_port: 0` keep the links
    /// plain even where the shared edge serves HTTPS: the project asked for none.
    public init(proxy: ProxySettings, httpPort: Int, servedHTTPSPort: Int?) {
        self.httpPort = httpPort
        let wanted = proxy.https != .off && proxy.httpsPort != 0
        self.httpsPort = wanted ? servedHTTPSPort.flatMap { $0 == 0 ? nil : $0 } : nil
    }

    /// The URL a browser should use for `host`: https when HTTPS is on.
    public func url(host: String) -> String {
        httpsPort.map { "https://\(host):\($0)" } ?? httpURL(host: host)
    }

    /// The plain URL for `host`, whether or not HTTPS is on.
    public func httpURL(host: String) -> String {
        "http://\(host):\(httpPort)"
    }
}
