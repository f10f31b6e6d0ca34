import DevhostProxy
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// The edge's book of projects without sockets: keys, claims, endpoints, withdrawal, idleness.
@Suite struct EdgeRegistryTests {
    func project(
        _ name: String, folder: String, repository: String? = nil, branch: String? = nil, prefix: String? = nil, routes: [String] = ["api"]
    )
        -> EdgeProject
    {
        EdgeProject(
            name: name, folder: folder, repository: repository, branch: branch, controlSocket: folder + "/.devhost/control.sock", pid: 100,
            prefix: prefix, routes: routes.map { .init(host: "\($0).\(name).localhost", service: $0) })
    }

    func hosts(_ registry: EdgeRegistry) -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: registry.routes.all.map { route -> (String, String) in
                switch route.target {
                case .service(let name, _): return (route.host, name)
                case .socket(let path): return (route.host, path)
                case .address(let host, let port): return (route.host, "\(host):\(port)")
                }
            })
    }

    @Test func projectsGetTheirHostsAndAWorktreeGetsItsBranchPrefix() {
        let registry = EdgeRegistry(pagesSocket: "/run/edge-http.sock")
        #expect(hosts(registry) == ["devhost.localhost": "/run/edge-http.sock"])
        let main = registry.register(1, project("shop", folder: "/src/shop", repository: "/src/shop/.git", branch: "main"))
        #expect(main.type == .registered && main.key == "shop" && main.prefix == nil && main.hosts == ["api.shop.localhost"])
        let tree = registry.register(2, project("shop", folder: "/src/shop-x", repository: "/src/shop/.git", branch: "feature-x"))
        #expect(tree.type == .registered && tree.key == "feature-x.shop" && tree.prefix == "feature-x")
        #expect(tree.rule?.contains("branch prefix feature-x") == true)
        #expect(
            hosts(registry) == [
                "api.shop.localhost": "shop/api", "feature-x.api.shop.localhost": "feature-x.shop/api",
                "devhost.shop.localhost": "/src/shop/.devhost/control.sock",
                "devhost.feature-x.shop.localhost": "/src/shop-x/.devhost/control.sock", "devhost.localhost": "/run/edge-http.sock",
            ])
        let other = registry.register(3, project("shop", folder: "/elsewhere/shop"))
        #expect(
            other.type == .refused && other.message?.contains("/src/shop") == true && other.message?.contains("/elsewhere/shop") == true)
        #expect(registry.projectCount == 2)
    }

    /// The edge sends browsers to HTTPS (`prefer`) only for the hosts of projects that want it: a
    /// project with `proxy.https: both` or `off` keeps plain HTTP, and one that says nothing (older
    /// than the field) is `prefer`, as before. `of` carries the manifest's value.
    @Test func theEdgeRedirectsOnlyTheHostsOfProjectsThatPreferHTTPS() throws {
        let registry = EdgeRegistry(pagesSocket: "/run/edge-http.sock")
        var both = project("keep", folder: "/src/keep")
        both.https = "both"
        _ = registry.register(1, both)
        _ = registry.register(2, project("old", folder: "/src/old"))
        var prefer = project("new", folder: "/src/new")
        prefer.https = "prefer"
        _ = registry.register(3, prefer)
        let keeps = Dictionary(
            uniqueKeysWithValues: registry.routes.all.filter { !$0.host.hasPrefix("devhost.") }.map { ($0.host, $0.keepsHTTP) })
        #expect(keeps == ["api.keep.localhost": true, "api.old.localhost": false, "api.new.localhost": false], "\(keeps)")
        let folder = try TempProject(["devhost.yml": "name: x\nproxy: { https: off }\nservices:\n  api: { command: ./a, route: api }\n"])
        #expect(EdgeProject.of(try folder.load(), controlSocket: "/c.sock").https == "off")
    }

    @Test func endpointsAreKeyedByProjectAndLeaveWithTheirConnection() {
        let registry = EdgeRegistry(pagesSocket: "/run/p.sock")
        _ = registry.register(7, project("blog", folder: "/src/blog"))
        registry.endpoint(7, service: "api", instance: "api.1", endpoint: .init(instance: "api.1", port: 4001))
        registry.endpoint(7, service: "api", instance: "api.2", endpoint: .init(instance: "api.2", port: 4002))
        #expect(registry.instances.healthy("blog/api").map(\.port) == [4001, 4002])
        registry.endpoint(7, service: "api", instance: "api.2", endpoint: nil)
        #expect(registry.instances.healthy("blog/api").map(\.port) == [4001])
        registry.describe(7, service: "api", state: "api.1 healthy", lines: (1...30).map(String.init))
        #expect(registry.describe("blog/api").state == "api.1 healthy" && registry.describe("blog/api").lines.count == 20)
        // An endpoint from a connection that never registered goes nowhere.
        registry.endpoint(8, service: "api", instance: "api.1", endpoint: .init(instance: "api.1", port: 9))
        #expect(registry.instances.all().keys.sorted() == ["blog/api"])

        registry.remove(7)
        #expect(registry.instances.healthy("blog/api").isEmpty)
        #expect(hosts(registry)["api.blog.localhost"] == nil)
        #expect(registry.departure(of: "api.blog.localhost")?.contains("/src/blog") == true)
        #expect(registry.describe("blog/api").state == "its project is not running")
        // Registering again clears the note.
        _ = registry.register(9, project("blog", folder: "/src/blog"))
        #expect(registry.departure(of: "api.blog.localhost") == nil)
    }

    @Test func aPrefixIsKeptAcrossAnEdgeRestartWhileItIsFree() {
        let registry = EdgeRegistry(pagesSocket: "/run/p.sock")
        // The worktree registers first with the new edge, asking for the prefix it had.
        let tree = registry.register(1, project("shop", folder: "/src/shop-x", repository: "/r", branch: "feature-x", prefix: "feature-x"))
        #expect(tree.prefix == "feature-x" && tree.hosts == ["feature-x.api.shop.localhost"])
        let main = registry.register(2, project("shop", folder: "/src/shop", repository: "/r", branch: "main"))
        #expect(main.prefix == nil && main.hosts == ["api.shop.localhost"])
    }

    @Test func idleOnlyWithNoProjectAndNoStandaloneRoute() {
        let registry = EdgeRegistry(pagesSocket: "/run/p.sock")
        let start = ContinuousClock.now
        #expect(registry.idle(now: start + .seconds(5)) != nil)
        _ = registry.register(1, project("a", folder: "/a"))
        #expect(registry.idle() == nil)
        registry.remove(1)
        #expect(registry.idle(now: .now + .seconds(2))! >= .seconds(2))
        registry.setStandalone([.init(host: "side.localhost", target: .address(host: "127.0.0.1", port: 9))])
        #expect(registry.idle() == nil)
        // A project's host wins over a standalone route of the same name.
        registry.setStandalone([.init(host: "api.a.localhost", target: .address(host: "127.0.0.1", port: 9))])
        _ = registry.register(2, project("a", folder: "/a"))
        #expect(hosts(registry)["api.a.localhost"] == "a/api")
    }

    @Test func linesOfTheProtocolRoundTrip() throws {
        var message = EdgeMessage(.endpoint)
        message.service = "api"
        message.instance = "api.1"
        message.port = 4001
        let line = message.encoded()
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(try EdgeMessage.decode(line.dropLast()) == message)
        #expect(throws: (any Error).self) { try EdgeMessage.decode(Array(#"{"type":"launch-missiles"}"#.utf8)) }
    }
}
