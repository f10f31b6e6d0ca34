import DevhostManifest
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

@testable import DevhostProxy

/// gRPC and h2c upstreams behind the HTTPS listener: a real grpcio server (Tests/Scripts/grpc_peer.py)
/// as service `echo`, grpcio and curl as clients over TLS with the CA made for the test.
@Suite("gRPC and h2c upstreams", .serialized)
struct GRPCProxyTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_peer.py").path
    static let h2cPeer = repositoryRoot.appendingPathComponent("Tests/Scripts/h2c_peer.py").path

    final class World: Stoppable, @unchecked Sendable {
        let data: TempProject
        let server: ChildProcess
        let instances = RouteTable()
        let secure: ProxyServer
        let plain: ProxyServer
        let serverPort: Int
        let context: ProxyContext
        /// With `recording`: the access log (a file of its own) and the request inspector.
        let accessLog: AccessLog?
        let inspector: Inspector?
        var accessLogPath: String { data.file("access.log") }
        var ca: String { LocalCAFiles(folder: data.file("ca")).certificate }

        /// `server`: the service's command (it prints "port N" once it listens); grpc_peer.py's
        /// server by default.
        init(protocol upstream: UpstreamProtocol = .grpc, recording: Bool = false, server command: [String]? = nil) async throws {
            data = try TempProject()
            server = try ChildProcess(argv: command ?? ["python3", GRPCProxyTests.script, "server"])
            let server = server
            // A whole "port N" line: a warning the gRPC runtime prints goes to the same output.
            func announced() -> Int? {
                server.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                    .first { $0.hasPrefix("port ") }.flatMap { Int($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
            }
            let started = await eventually(timeout: .seconds(10)) { announced() != nil }
            guard started, let port = announced() else {
                server.stop()
                throw HarnessFailure(message: "the gRPC server did not start: \(server.output)")
            }
            serverPort = port
            instances.set(service: "echo", instance: "echo-1", endpoint: .init(instance: "echo-1", port: port))
            let routes = ProxyRoutes([
                .init(host: "echo.localhost", target: .service("echo", rewriteHost: false), upstreamProtocol: upstream),
                .init(host: "gone.localhost", target: .service("gone", rewriteHost: false), upstreamProtocol: .grpc),
            ])
            var settings = ProxyContext.Settings()
            settings.accessLog = .off
            settings.waitForHealthy = .milliseconds(100)
            accessLog = recording ? try AccessLog(format: .human, path: data.file("access.log")) : nil
            inspector = recording ? Inspector() : nil
            let context = ProxyContext(routes: routes, instances: instances, settings: settings, accessLog: accessLog, inspector: inspector)
            self.context = context
            do {
                let tls = try ProxyTLS.make(port: 0, files: LocalCAFiles(folder: data.file("ca")), domain: "localhost", log: nil)
                secure = try await ProxyServer.start(
                    host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton, tls: tls.sslContext)
                plain = try await ProxyServer.start(
                    host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
            } catch {
                server.stop()
                throw error
            }
        }

        func stop() async {
            await secure.close()
            await plain.close()
            server.stop()
            accessLog?.close()
        }

        /// grpc_peer.py's client through the HTTPS listener: its one JSON line.
        func peer(_ arguments: [String], host: String = "echo.localhost") throws -> [String: Any] {
            let result = try run(
                ["python3", GRPCProxyTests.script] + arguments.prefix(1) + ["127.0.0.1:\(secure.port)"] + arguments.dropFirst()
                    + ["--ca", ca, "--authority", host])
            let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessFailure(message: "no JSON from the client: \(result.output)")
            }
            return json
        }
    }

    static func with(
        protocol upstream: UpstreamProtocol = .grpc, recording: Bool = false, server: [String]? = nil,
        _ body: (World) async throws -> Void
    ) async throws {
        try await using(World(protocol: upstream, recording: recording, server: server), body)
    }

    @Test func unaryServerStreamingBidirectionalAndStatusInTrailersThroughTheProxy() async throws {
        try await Self.with { world in
            let out = try world.peer(["client"])
            // The upstream saw the proxy's forwarding fields.
            #expect(out["unary"] as? String == "echo:hello via https", "\(out)")
            #expect(out["stream"] as? [String] == ["item 0", "item 1", "item 2"], "\(out)")
            #expect(out["bidi"] as? [String] == ["back:a", "back:b", "back:c"], "\(out)")
            let fail = try #require(out["fail"] as? [String: Any], "\(out)")
            #expect(fail["code"] as? String == "FAILED_PRECONDITION" && fail["details"] as? String == "not today: x", "\(fail)")
            // Trailing metadata, binary included, arrives as the server sent it.
            #expect(fail["why"] as? String == "asked" && fail["bin"] as? [Int] == [0, 1], "\(fail)")
            #expect(out["missing"] as? String == "UNIMPLEMENTED", "\(out)")
        }
    }

    @Test func aServiceWithNoInstanceOrARefusingOneIsUnavailableInTrailers() async throws {
        try await Self.with { world in
            let none = try world.peer(["unary", "x"], host: "gone.localhost")
            #expect(none["code"] as? String == "UNAVAILABLE", "\(none)")
            #expect((none["details"] as? String)?.contains("service gone: no healthy instance") == true, "\(none)")
            // The instance's port closes: connecting fails, no other instance, UNAVAILABLE.
            world.server.stop()
            let refused = try world.peer(["unary", "x"])
            #expect(refused["code"] as? String == "UNAVAILABLE", "\(refused)")
            #expect((refused["details"] as? String)?.hasPrefix("devhost: service echo:") == true, "\(refused)")
        }
    }

    /// A plaintext gRPC channel (grpcio's insecure channel: HTTP/2 with prior knowledge) on the
    /// proxy's plain port: the same calls as over TLS, the upstream told `http`.
    @Test func aPlaintextGRPCChannelOnThePlainPort() async throws {
        try await Self.with { world in
            let result = try run([
                "python3", GRPCProxyTests.script, "client", "127.0.0.1:\(world.plain.port)", "--authority", "echo.localhost",
            ])
            let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
            let out = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(result.output)")
            #expect(out["unary"] as? String == "echo:hello via http", "\(out)")
            #expect(out["stream"] as? [String] == ["item 0", "item 1", "item 2"], "\(out)")
            #expect(out["bidi"] as? [String] == ["back:a", "back:b", "back:c"], "\(out)")
            #expect(out["missing"] as? String == "UNIMPLEMENTED", "\(out)")
        }
    }

    @Test func aGRPCRequestOverHTTP1IsAnsweredWithWhatItNeeds() async throws {
        try await Self.with { world in
            let result = try run([
                "curl", "-sS", "--http1.1", "-H", "Host: echo.localhost", "-H", "content-type: application/grpc", "--data-binary", "x",
                "-w", "\n%{http_code}", "http://127.0.0.1:\(world.plain.port)/devhost.test.Echo/Unary",
            ])
            #expect(result.output.hasSuffix("\n505"), "\(result.output)")
            #expect(result.output.contains("speaks gRPC (protocol: grpc), which needs HTTP/2"), "\(result.output)")
        }
    }

    /// An h2c service reached by curl over HTTP/2: a gRPC call written by hand (1 byte flag, 4 byte
    /// length, the message), its answer and its trailers as curl prints them.
    @Test func anH2CServiceAnswersCurlOverHTTP2() async throws {
        try await Self.with(protocol: .h2c) { world in
            let message = world.data.file("message")
            try Data([0, 0, 0, 0, 2] + Array("hi".utf8)).write(to: URL(fileURLWithPath: message))
            let result = try run([
                "curl", "-sS", "--http2", "--cacert", world.ca, "--resolve", "echo.localhost:\(world.secure.port):127.0.0.1",
                "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@\(message)", "-D", "-",
                "-w", "\nHTTP_VERSION %{http_version}", "https://echo.localhost:\(world.secure.port)/devhost.test.Echo/Unary",
            ])
            #expect(result.output.contains("HTTP_VERSION 2"), "\(result.output)")
            #expect(result.output.contains("echo:hi via https"), "\(result.output)")
            #expect(result.output.contains("grpc-status: 0"), "trailers reach the client: \(result.output)")
        }
    }

    /// An HTTP/1.1 client reaches an h2c service: its request goes on as an HTTP/2 stream and the
    /// answer comes back as HTTP/1.1, chunked (the service gave no length) with the gRPC trailers
    /// in the last chunk. Two requests on one curl connection: the client connection stays usable.
    @Test func anHTTP1ClientReachesAnH2CServiceTranslated() async throws {
        try await Self.with(protocol: .h2c) { world in
            let message = world.data.file("message")
            try Data([0, 0, 0, 0, 2] + Array("hi".utf8)).write(to: URL(fileURLWithPath: message))
            let url = "http://127.0.0.1:\(world.plain.port)/devhost.test.Echo/Unary"
            let result = try run([
                "curl", "-sS", "--http1.1", "-H", "Host: echo.localhost", "-H", "content-type: application/grpc", "-H", "te: trailers",
                "--data-binary", "@\(message)", "-D", "-", "-w", "\nHTTP_VERSION %{http_version} CONNECTS %{num_connects}\n", url, url,
            ])
            let out = result.output
            #expect(out.components(separatedBy: "HTTP/1.1 200").count == 3, "\(out)")
            #expect(out.lowercased().contains("transfer-encoding: chunked"), "\(out)")
            #expect(out.components(separatedBy: "echo:hi via http").count == 3, "\(out)")
            #expect(out.contains("grpc-status: 0"), "the trailers reach the client: \(out)")
            #expect(out.contains("HTTP_VERSION 1.1 CONNECTS 1") && out.contains("HTTP_VERSION 1.1 CONNECTS 0"), "\(out)")
        }
    }

    /// An h2c service that answers `100 Continue` before its response (RFC 9113 §8.1): the interim
    /// head reaches the client and the stream goes on to the final head and body, over HTTP/2 and,
    /// translated, over HTTP/1.1.
    @Test func anInterimHeadFromAnH2CServiceIsPassedOnBeforeTheResponse() async throws {
        try await Self.with(protocol: .h2c, server: ["python3", Self.h2cPeer, "server", "interim"]) { world in
            let overHTTP2 = try run([
                "curl", "-sS", "--http2", "--cacert", world.ca, "--resolve", "echo.localhost:\(world.secure.port):127.0.0.1",
                "-H", "Expect: 100-continue", "--data-binary", "hello", "-D", "-", "-w", "\nCODE %{http_code} HTTP_VERSION %{http_version}",
                "https://echo.localhost:\(world.secure.port)/upload",
            ])
            #expect(overHTTP2.output.contains("HTTP/2 100"), "\(overHTTP2.output)")
            #expect(overHTTP2.output.contains("read 5 bytes\nCODE 200 HTTP_VERSION 2"), "\(overHTTP2.output)")
            let overHTTP1 = try run([
                "curl", "-sS", "--http1.1", "-H", "Host: echo.localhost", "-H", "Expect: 100-continue", "--data-binary", "hello",
                "-D", "-", "-w", "\nCODE %{http_code}", "http://127.0.0.1:\(world.plain.port)/upload",
            ])
            #expect(overHTTP1.output.contains("HTTP/1.1 100"), "\(overHTTP1.output)")
            #expect(overHTTP1.output.contains("read 5 bytes\nCODE 200"), "\(overHTTP1.output)")
        }
    }

    /// Calls a client abandons are reset upstream while the service's answers to them are on their
    /// way, so those arrive after the resets (RFC 9113 §5.4.2). Ninety at once, more than NIOHTTP2
    /// remembers by default (32): the answers are dropped, the connection to the service stays
    /// good, and the next calls are answered (they used to wait forever once a connection error
    /// left the pool holding a connection that had sent GOAWAY).
    @Test func callsAbandonedByTheirClientLeaveTheServiceReachable() async throws {
        try await Self.with(protocol: .h2c, server: ["python3", Self.h2cPeer, "server", "late", "90"]) { world in
            let curl = [
                "curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "-H", "Host: echo.localhost", "-w", "\nCODE %{http_code}",
                "http://127.0.0.1:\(world.plain.port)/next",
            ]
            let first = try run(curl).output
            #expect(first.hasSuffix("read 0 bytes\nCODE 200"), "\(first)")
            let go = world.data.file("go")
            let client = try ChildProcess(argv: ["python3", Self.h2cPeer, "abandon", "\(world.plain.port)", "echo.localhost", "90", go])
            let server = world.server
            let held = await eventually(timeout: .seconds(10)) { server.output.contains("holding 90") }
            _ = FileManager.default.createFile(atPath: go, contents: Data())
            let status = client.wait()
            #expect(held && status == 0, "server: \(server.output) client: \(client.output)")
            for _ in 0..<3 {
                let next = try run(curl).output
                #expect(next.hasSuffix("read 0 bytes\nCODE 200"), "\(next)")
            }
        }
    }
}
