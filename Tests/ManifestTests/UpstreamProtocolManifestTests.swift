import DevhostManifest
import Testing

/// `protocol:` on a service and `health: { grpc: NAME }`.
@Suite struct UpstreamProtocolManifestTests {
    @Test func protocolsAndTheGRPCCheck() throws {
        let manifest = try load(
            """
            services:
              web: { command: x }
              h2: { command: x, protocol: h2c }
              rpc: { command: x, protocol: grpc, health: { grpc: shop.Cart, interval: 2s } }
              whole: { command: x, protocol: grpc, health: { grpc: "" } }
            """)
        let services = Dictionary(uniqueKeysWithValues: manifest.services.map { ($0.name, $0) })
        #expect(services["web"]?.upstreamProtocol == .http1)
        #expect(services["h2"]?.upstreamProtocol == .h2c)
        #expect(services["rpc"]?.upstreamProtocol == .grpc)
        #expect(services["rpc"]?.health?.probe == .grpc(service: "shop.Cart"))
        #expect(services["rpc"]?.health?.interval == .seconds(2))
        // The empty name is grpc.health.v1's "the whole server".
        #expect(services["whole"]?.health?.probe == .grpc(service: ""))
        let json = services["rpc"]!.json(in: manifest).serialized()
        #expect(json.contains("\"protocol\":\"grpc\"") && json.contains("\"grpc\":\"shop.Cart\""), "\(json)")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var line: String
        var path: String
        var message: String
        var at: String
        var testDescription: String { path + ": " + message }
    }

    static let cases: [Case] = [
        Case(
            line: "    protocol: http2", path: "services.db.protocol",
            message: "\"http2\" is not an upstream protocol (http1, h2c, grpc; HTTP/2 in cleartext with prior knowledge is h2c)",
            at: "http2"),
        Case(line: "    protocol: [grpc]", path: "services.db.protocol", message: "expected a string", at: "["),
        Case(line: "    health: { grpc: [a] }", path: "services.db.health.grpc", message: "expected a string", at: "["),
        Case(
            line: "    health: { grpc: x, tcp: true }", path: "services.db.health", message: "has grpc and tcp: choose one probe", at: "{"),
        Case(line: "    health: { grpcc: x }", path: "services.db.health.grpcc", message: "did you mean \"grpc\"?", at: "grpcc"),
        Case(line: "    protocl: grpc", path: "services.db.protocl", message: "did you mean \"protocol\"?", at: "protocl"),
    ]

    @Test(arguments: cases)
    func mistakesAreNamedWithTheirPosition(_ c: Case) throws {
        let found = try issues("services:\n  db:\n    command: x\n\(c.line)\n")
        let issue = try #require(found.first { $0.path == c.path }, "\(found)")
        #expect(issue.message.contains(c.message), "\(issue.message)")
        let column = c.line.distance(from: c.line.startIndex, to: c.line.range(of: c.at)!.lowerBound) + 1
        #expect(issue.location?.line == 4 && issue.location?.column == column, "\(String(describing: issue.location))")
    }

    @Test func anHTTP2ProtocolOrAGRPCCheckNeedsAPort() throws {
        let found = try issues("services:\n  w:\n    command: x\n    port: none\n    protocol: grpc\n    health: { grpc: a }\n")
        #expect(
            found.contains { $0.path == "services.w.protocol" && $0.message.contains("grpc needs a port") && $0.location?.line == 5 },
            "\(found)")
        #expect(found.contains { $0.path == "services.w.health" && $0.message.contains("grpc needs a port") }, "\(found)")
    }
}
