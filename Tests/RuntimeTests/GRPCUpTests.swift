import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A grpcio server as a `protocol: grpc` service under the real `devhost up`, its route's health
/// driven by `health: { grpc: … }`, called through the HTTPS listener by a grpcio client that trusts
/// the CA devhost made.
@Suite("gRPC under up", .serialized)
struct GRPCUpTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_peer.py").path

    @Test func theGRPCHealthCheckTakesTheRouteOutAndBack() async throws {
        let httpsPort = try freeLoopbackPort()
        let data = try TempProject()
        let dev = try DevhostRun(
            """
            name: rpc
            proxy: { https_port: \(httpsPort), https: both }
            services:
              echo:
                command: python3 \(Self.script) server
                route: echo
                protocol: grpc
                health: { grpc: devhost.test.Echo, interval: 100ms, retries: 1 }
            """, environment: ["XDG_DATA_HOME": data.path])
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let report = try #require(await dev.waitForStatus { $0.ok }, "\(up.output)")
        let instance = try #require(report.services.first { $0.name == "echo" }?.instances.first)
        #expect(instance.healthDetail == "grpc devhost.test.Echo SERVING", "\(instance)")

        let ca = data.file("devhost/ca/ca.pem")
        func call(_ arguments: [String]) throws -> String {
            try run(
                ["python3", Self.script, arguments[0], "127.0.0.1:\(httpsPort)"] + arguments.dropFirst()
                    + ["--ca", ca, "--authority", "echo.rpc.localhost"]
            ).output
        }
        #expect(try call(["unary", "hi"]).contains("\"ok\": \"echo:hi via https\""))

        // The server says NOT_SERVING (asked through the proxy): the check fails, the route loses the
        // instance, and devhost restarts it (liveness); the new process serves, and so does the route.
        let before = try #require(instance.pid)
        #expect(try call(["health", "NOT_SERVING"]).contains("\"ok\""))
        let back = await dev.waitForStatus(timeout: .seconds(15)) { report in
            report.ok && report.services.first { $0.name == "echo" }?.instances.first?.pid.map { $0 != before } == true
        }
        #expect(back != nil, "the instance did not come back")
        let logs = try dev.devhost(["logs"]).output
        #expect(logs.contains("echo.1 unhealthy: Health/Check(devhost.test.Echo) answered NOT_SERVING"), "\(logs)")
        #expect(try call(["unary", "again"]).contains("\"ok\": \"echo:again via https\""))
    }
}
