import DevhostManifest
import DevhostProxy
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// h2c and gRPC services on the shared edge: a route's protocol goes over the wire only when it
/// is not HTTP/1.1 (older edges read the rest as before), the registry gives it to the edge's
/// table, and a real gRPC project answers a real grpcio client through a real edge.
@Suite struct EdgeUpstreamProtocolWireTests {
    @Test func aRoutesProtocolTravelsOnlyWhenItIsNotHTTP1() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let plain = EdgeProject.Route(host: "api.localhost", service: "api")
        #expect(
            String(decoding: try encoder.encode(plain), as: UTF8.self) == #"{"host":"api.localhost","rewriteHost":false,"service":"api"}"#)
        let rpc = EdgeProject.Route(host: "rpc.localhost", service: "rpc", protocol: .grpc)
        #expect(
            String(decoding: try encoder.encode(rpc), as: UTF8.self)
                == #"{"host":"rpc.localhost","protocol":"grpc","rewriteHost":false,"service":"rpc"}"#)
        // A protocol this edge does not know (a newer project's) is served as HTTP/1.1.
        let newer = try JSONDecoder().decode(
            EdgeProject.Route.self, from: Data(#"{"host":"a.localhost","protocol":"h3","rewriteHost":false,"service":"a"}"#.utf8))
        #expect(newer.upstreamProtocol == .http1)
        #expect(EdgeProtocol.features.contains("upstream-protocols"))
    }

    @Test func theRegistryGivesTheEdgeEachRoutesProtocol() {
        let registry = EdgeRegistry(pagesSocket: "/run/edge-http.sock")
        let project = EdgeProject(
            name: "rpc", folder: "/src/rpc", controlSocket: "/src/rpc/c.sock", pid: 1,
            routes: [
                .init(host: "echo.rpc.localhost", service: "echo", protocol: .grpc),
                .init(host: "h2.rpc.localhost", service: "h2", protocol: .h2c), .init(host: "web.rpc.localhost", service: "web"),
            ])
        #expect(registry.register(1, project).type == .registered)
        let served = Dictionary(
            uniqueKeysWithValues: registry.routes.all.filter { $0.host.hasSuffix("rpc.localhost") && !$0.host.hasPrefix("devhost.") }.map {
                ($0.host, $0.upstreamProtocol)
            })
        #expect(served == ["echo.rpc.localhost": .grpc, "h2.rpc.localhost": .h2c, "web.rpc.localhost": .http1], "\(served)")
    }
}

extension EdgeTests {
    /// A `protocol: grpc` service in a project on the shared edge (the default mode): a grpcio
    /// client's unary call through the edge's HTTPS listener reaches it and comes back.
    @Test func aGRPCServiceAnswersThroughTheSharedEdge() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let folder = world.root.file("rpc")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_peer.py").path
        try """
        name: rpc
        services:
          echo:
            command: python3 \(script) server
            route: echo
            protocol: grpc
            health: { grpc: devhost.test.Echo, interval: 100ms, retries: 1 }
        """.write(toFile: folder + "/devhost.yml", atomically: true, encoding: .utf8)
        let up = try world.devhost(["up", "-d"], in: folder)
        #expect(up.status == 0, "\(up.output)")
        let ca = world.root.file("data") + "/devhost/ca/ca.pem"
        var answer = ""
        let answered = await eventually(timeout: .seconds(15)) {
            answer =
                (try? run([
                    "python3", script, "unary", "127.0.0.1:\(world.httpsPort)", "hi", "--ca", ca, "--authority", "echo.rpc.localhost",
                ]).output) ?? ""
            return answer.contains("\"ok\"")
        }
        #expect(answered, "\(answer)")
        #expect(answer.contains("\"ok\": \"echo:hi via https\""), "\(answer)")
    }
}
