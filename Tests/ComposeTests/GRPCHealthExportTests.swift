import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// `health: { grpc: NAME }` in `devhost compose` (grpc_health_probe where the image has it, a TCP
/// check otherwise, and a comment saying so) and `devhost kube` (Kubernetes' own grpc probe).
@Suite struct GRPCHealthExportTests {
    static let manifest = """
        services:
          rpc: { command: python3 server.py, image: "python:3.12-slim", port: 50051, protocol: grpc, health: { grpc: shop.Cart } }
          whole: { command: ./server, port: 50052, protocol: grpc, health: { grpc: "" } }
        """

    @Test func composeUsesGRPCHealthProbeWhereItCanAndSaysSo() throws {
        let project = try TempProject(["devhost.yml": Self.manifest, "Dockerfile": "FROM scratch\n"])
        let file = ComposeFile(manifest: try project.load())
        let rendered = try file.render()
        let document = try #require(try Yams.load(yaml: rendered) as? [String: Any])
        let services = try #require(document["services"] as? [String: [String: Any]])
        let test = try #require((services["rpc"]?["healthcheck"] as? [String: Any])?["test"] as? [String])
        #expect(test[0] == "CMD-SHELL")
        #expect(test[1].contains("grpc_health_probe -addr=127.0.0.1:50051 -service='shop.Cart'"), "\(test)")
        #expect(test[1].contains("nc -z 127.0.0.1 50051"), "without grpc_health_probe, the port is what is checked: \(test)")
        let whole = try #require((services["whole"]?["healthcheck"] as? [String: Any])?["test"] as? [String])
        #expect(whole[1].contains("grpc_health_probe -addr=127.0.0.1:50052;"), "\(whole)")
        #expect(rendered.contains("# health.grpc (shop.Cart): compose runs grpc_health_probe when the image has it"), "\(rendered)")
        try file.write(to: file.defaultPath, force: false)
        try validateWithComposeTools(file.defaultPath)
    }

    @Test func kubeWritesGRPCProbes() throws {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let (_, built) = try writeBuildAndValidate(try project.load(), label: "grpc probes")
        let objects = try kubeDocuments(built)
        func container(_ name: String) throws -> [String: Any] {
            let deployment = try #require(
                objects.first { $0["kind"] as? String == "Deployment" && ($0["metadata"] as? [String: Any])?["name"] as? String == name })
            let spec = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
            return try #require((spec?["containers"] as? [[String: Any]])?.first)
        }
        let rpc = try container("rpc")
        let readiness = try #require(rpc["readinessProbe"] as? [String: Any])
        #expect(readiness["grpc"] as? [String: AnyHashable] == ["port": 50051, "service": "shop.Cart"], "\(readiness)")
        let whole = try #require(try container("whole")["readinessProbe"] as? [String: Any])
        #expect(whole["grpc"] as? [String: AnyHashable] == ["port": 50052], "\(whole)")
    }
}
