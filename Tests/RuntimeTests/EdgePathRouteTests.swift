import DevhostProxy
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// Path routes on the shared edge: what goes over the wire (and what an older edge still reads),
/// how the registry builds the edge's table, and a real project behind a real edge.
@Suite struct EdgePathRouteWireTests {
    @Test func hostRoutesGoOverTheWireAsBeforeAndPathRoutesAddTwoFields() throws {
        let host = EdgeProject.Route(host: "shop.localhost", service: "web")
        let path = EdgeProject.Route(host: "shop.localhost", service: "api", path: "/api", stripPrefix: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(
            String(decoding: try encoder.encode(host), as: UTF8.self) == #"{"host":"shop.localhost","rewriteHost":false,"service":"web"}"#)
        #expect(
            String(decoding: try encoder.encode(path), as: UTF8.self)
                == #"{"host":"shop.localhost","path":"/api","rewriteHost":false,"service":"api","stripPrefix":true}"#)
        // What an edge of this version reads from a project that knows nothing of paths.
        let old = try JSONDecoder().decode(
            EdgeProject.Route.self, from: Data(#"{"host":"a.localhost","rewriteHost":true,"service":"a"}"#.utf8))
        #expect(old == EdgeProject.Route(host: "a.localhost", service: "a", rewriteHost: true))
        // An older edge's welcome has no features: the link refuses it only for a project with paths.
        let welcome = try EdgeMessage.decode(Array(#"{"type":"welcome","protocol":1,"version":"0.1.0","pid":1,"port":7777}"#.utf8))
        #expect(welcome.features == nil)
        #expect(EdgeProtocol.features.contains("path-routes"))
    }

    @Test func theRegistryServesPathsUnderAProjectsHostAndItsBranchPrefix() {
        let registry = EdgeRegistry(pagesSocket: "/run/edge-http.sock")
        let routes: [EdgeProject.Route] = [
            .init(host: "shop.localhost", service: "web"),
            .init(host: "shop.localhost", service: "api", path: "/api", stripPrefix: true),
            .init(host: "shop.localhost", service: "v2", path: "/api/v2"),
        ]
        func project(_ folder: String, branch: String) -> EdgeProject {
            EdgeProject(
                name: "shop", folder: folder, repository: "/src/shop/.git", branch: branch, controlSocket: folder + "/c.sock", pid: 1,
                routes: routes)
        }
        let main = registry.register(1, project("/src/shop", branch: "main"))
        #expect(main.type == .registered && main.hosts == ["shop.localhost"])
        let tree = registry.register(2, project("/src/shop-x", branch: "x"))
        #expect(tree.type == .registered && tree.hosts == ["x.shop.localhost"])
        let served = registry.routes.all.filter { $0.host.hasSuffix("shop.localhost") && !$0.host.hasPrefix("devhost.") }.map { route in
            guard case .service(let name, _) = route.target else { return "?" }
            return "\(route.host)\(route.path ?? "") \(name)\(route.stripPrefix ? " strip" : "")"
        }
        #expect(
            Set(served) == [
                "shop.localhost shop/web", "shop.localhost/api shop/api strip", "shop.localhost/api/v2 shop/v2",
                "x.shop.localhost x.shop/web", "x.shop.localhost/api x.shop/api strip", "x.shop.localhost/api/v2 x.shop/v2",
            ], "\(served)")
        let status = registry.status().projects.first { $0.key == "shop" }
        #expect(status?.services.map(\.hosts) == [["shop.localhost"], ["shop.localhost/api"], ["shop.localhost/api/v2"]])
    }
}

extension EdgeTests {
    /// A frontend and a stripped API on one host, through a real edge started by `devhost up -d`;
    /// `devhost status` and the edge's status list the path.
    @Test func pathRoutesThroughTheSharedEdge() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let folder = world.root.file("shop")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
        name: shop
        services:
          web:
            command: python3 paths.py
            route: "@"
            health: { http: /healthz, interval: 100ms, retries: 1 }
          api:
            command: python3 paths.py
            route: [{ host: "@", path: /api, strip_prefix: true }]
            health: { http: /healthz, interval: 100ms, retries: 1 }
        """.write(toFile: folder + "/devhost.yml", atomically: true, encoding: .utf8)
        try pathsUpstream.write(toFile: folder + "/paths.py", atomically: true, encoding: .utf8)
        let up = try world.devhost(["up", "-d"], in: folder)
        #expect(up.status == 0, "\(up.output)")

        let api = world.get("shop.localhost", path: "/api/users?q=a%2Fb")
        #expect(api.0 == 200 && api.1.contains(#""service": "api", "target": "/users?q=a%2Fb", "prefix": ["/api"]"#), "\(api)")
        let web = world.get("shop.localhost", path: "/apix")
        #expect(web.0 == 200 && web.1.contains(#""service": "web", "target": "/apix", "prefix": []"#), "\(web)")
        let status = try #require(world.status()).projects.first { $0.key == "shop" }
        #expect(status?.services.first { $0.name == "api" }?.hosts == ["shop.localhost/api"])
        let shown = try world.devhost(["status"], in: folder)
        // Status links the edge's HTTPS listener when it serves one, path included.
        #expect(shown.output.contains("https://shop.localhost:\(world.httpsPort)/api "), "\(shown.output)")
        let missing = world.get("nope.localhost")
        #expect(missing.0 == 404 && missing.1.contains(">shop.localhost/api<"), "\(missing)")
    }
}
