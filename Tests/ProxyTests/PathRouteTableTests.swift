import NIOCore
import Testing

@testable import DevhostProxy

/// Path routes in the proxy's host table: longest prefix first, whole segments only, and the target
/// the upstream gets (stripped or kept) byte for byte, down to the request line devhost writes.
@Suite struct PathRouteTableTests {
    static let routes = ProxyRoutes([
        .init(host: "shop.localhost", target: .service("web", rewriteHost: false)),
        .init(host: "shop.localhost", target: .service("api", rewriteHost: false), path: "/api", stripPrefix: true),
        .init(host: "shop.localhost", target: .service("v2", rewriteHost: false), path: "/api/v2"),
        .init(host: "shop.localhost", target: .service("files", rewriteHost: false), path: "/a%2Fb", stripPrefix: true),
        .init(host: "docs.localhost", target: .service("docs", rewriteHost: false), path: "/docs"),
        .init(host: "plain.localhost", target: .service("plain", rewriteHost: false)),
    ])

    struct Case: CustomTestStringConvertible, Sendable {
        var host: String
        var target: String
        /// The service, nil for devhost's 404.
        var service: String?
        /// The request line's target as the upstream gets it.
        var upstream: String?
        var testDescription: String { host + " " + target }
    }

    static let cases: [Case] = [
        Case(host: "shop.localhost", target: "/", service: "web", upstream: "/"),
        Case(host: "shop.localhost", target: "/apix", service: "web", upstream: "/apix"),
        Case(host: "shop.localhost", target: "/ap", service: "web", upstream: "/ap"),
        Case(host: "shop.localhost", target: "/API/x", service: "web", upstream: "/API/x"),
        Case(host: "shop.localhost", target: "/api", service: "api", upstream: "/"),
        Case(host: "shop.localhost", target: "/api/", service: "api", upstream: "/"),
        Case(host: "shop.localhost", target: "/api/x/y", service: "api", upstream: "/x/y"),
        Case(host: "shop.localhost", target: "/api?q=1&r=%2F", service: "api", upstream: "/?q=1&r=%2F"),
        Case(host: "shop.localhost", target: "/api/?q", service: "api", upstream: "/?q"),
        Case(host: "shop.localhost", target: "/api//x", service: "api", upstream: "//x"),
        // Encoded bytes are never decoded: `%2F` is not a segment boundary, and passes through as sent.
        Case(host: "shop.localhost", target: "/api%2Fx", service: "web", upstream: "/api%2Fx"),
        Case(host: "shop.localhost", target: "/api/a%2Fb%20c", service: "api", upstream: "/a%2Fb%20c"),
        Case(host: "shop.localhost", target: "/a%2Fb/c", service: "files", upstream: "/c"),
        Case(host: "shop.localhost", target: "/a/b/c", service: "web", upstream: "/a/b/c"),
        // The longest prefix wins, and keeps its target whole.
        Case(host: "shop.localhost", target: "/api/v2", service: "v2", upstream: "/api/v2"),
        Case(host: "shop.localhost", target: "/api/v2/items?x", service: "v2", upstream: "/api/v2/items?x"),
        Case(host: "shop.localhost", target: "/api/v20", service: "api", upstream: "/v20"),
        Case(host: "docs.localhost", target: "/docs/a", service: "docs", upstream: "/docs/a"),
        // A host with paths only has no catch-all.
        Case(host: "docs.localhost", target: "/", service: nil, upstream: nil),
        Case(host: "docs.localhost", target: "/docsx", service: nil, upstream: nil),
        Case(host: "plain.localhost", target: "/api", service: "plain", upstream: "/api"),
    ]

    private func head(_ text: String) throws -> HTTPHead {
        var buffer = ByteBuffer(string: text)
        var head = HTTPHead(bytes: ByteBuffer())
        guard case .complete = HTTPHead.parse(&buffer, into: &head, isRequest: true, maxHead: 32 * 1024, maxTarget: 8192) else {
            Issue.record("not a complete head: \(text.debugDescription)")
            throw CancellationError()
        }
        return head
    }

    /// What the proxy does with one request head: the route it picks and the head it writes upstream.
    private func forward(_ text: String) throws -> (route: ResolvedRoute, upstream: String) {
        let request = try head(text)
        let (host, entry) = Self.routes.lookup(hostHeader: request.string(request.host!))
        let route = ResolvedRoute(header: [], generation: 0, host: host, target: entry?.catchAll, paths: entry?.prefixes ?? [])
            .route(for: request)
        var out = ByteBuffer()
        ProxyHeaders.upstreamRequest(
            request, client: ClientAddress("127.0.0.1"), requestID: RequestID(sent: ByteBuffer(string: "id")), rewriteHost: nil,
            strip: route.strip, into: &out)
        return (route, String(buffer: out))
    }

    @Test(arguments: cases)
    func eachTargetGoesToItsLongestPrefix(_ c: Case) throws {
        let (route, upstream) = try forward("GET \(c.target) HTTP/1.1\r\nHost: \(c.host):7777\r\n\r\n")
        if case .service(let name, _)? = route.target {
            #expect(name == c.service)
        } else {
            #expect(c.service == nil, "no route for \(c.target)")
        }
        if let expected = c.upstream {
            #expect(upstream.hasPrefix("GET \(expected) HTTP/1.1\r\n"), "\(upstream)")
        }
        // The same decision from the string form the pages and tests use.
        let (_, entry) = Self.routes.lookup(hostHeader: c.host)
        let prefix = entry?.match(target: c.target)
        if let prefix, let expected = c.upstream, prefix.strip { #expect(prefix.stripped(c.target) == expected) }
    }

    @Test func aStrippedPrefixIsNamedAndAClientsOwnIsNeverTrusted() throws {
        let (_, stripped) = try forward(
            "POST /api/items HTTP/1.1\r\nHost: shop.localhost\r\nX-Forwarded-Prefix: /evil\r\nX_Forwarded_Prefix: /evil\r\n"
                + "Content-Length: 0\r\n\r\n")
        #expect(stripped.hasPrefix("POST /items HTTP/1.1\r\n"))
        #expect(stripped.components(separatedBy: "X-Forwarded-Prefix: ").count == 2, "\(stripped)")
        #expect(stripped.contains("\r\nX-Forwarded-Prefix: /api\r\n"))
        #expect(!stripped.contains("/evil"))
        // Kept prefixes (and host routes) say nothing, and still drop the client's.
        for target in ["/api/v2/x", "/other"] {
            let (_, kept) = try forward("GET \(target) HTTP/1.1\r\nHost: shop.localhost\r\nx-forwarded-prefix: /evil\r\n\r\n")
            #expect(!kept.lowercased().contains("x-forwarded-prefix"), "\(kept)")
        }
    }

    @Test func anAbsoluteFormTargetIsMatchedOnItsPath() throws {
        let (route, upstream) = try forward("GET http://shop.localhost:7777/api?x=1 HTTP/1.1\r\nHost: shop.localhost:7777\r\n\r\n")
        #expect(route.label == "api")
        #expect(upstream.hasPrefix("GET /?x=1 HTTP/1.1\r\n"))
        let (bare, bareUpstream) = try forward("GET http://shop.localhost:7777 HTTP/1.1\r\nHost: shop.localhost:7777\r\n\r\n")
        #expect(bare.label == "web")
        #expect(bareUpstream.hasPrefix("GET / HTTP/1.1\r\n"))
    }

    @Test func aHostWithoutPathsSharesOneRouteForEveryTarget() throws {
        let (host, entry) = Self.routes.lookup(hostHeader: "plain.localhost")
        let route = ResolvedRoute(header: [], generation: 0, host: host, target: entry?.catchAll, paths: entry?.prefixes ?? [])
        #expect(route.paths.isEmpty)
        #expect(route.route(for: try head("GET /api HTTP/1.1\r\nHost: plain.localhost\r\n\r\n")) === route)
    }

    @Test func theLastRouteForAHostAndPathWins() {
        let routes = ProxyRoutes([
            .init(host: "a.localhost", target: .service("one", rewriteHost: false), path: "/x"),
            .init(host: "A.localhost", target: .service("two", rewriteHost: false), path: "/x"),
        ])
        #expect(routes.lookup(hostHeader: "a.localhost").routes?.prefixes.map(\.target) == [.service("two", rewriteHost: false)])
        #expect(routes.resolve(hostHeader: "a.localhost").target == nil)
        #expect(routes.serves(hostHeader: "a.localhost:7777"))
    }
}
