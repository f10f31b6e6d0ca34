import DevhostManifest
import DevhostTestSupport
import Foundation
import NIOCore
import NIOHPACK
import NIOPosix
import Testing

@testable import DevhostRuntime

/// `health: { grpc: NAME }`: the probe against a real grpcio server with grpc.health.v1
/// (Tests/Scripts/grpc_peer.py), the answers it must read frame by frame, and under `devhost up` the
/// check driving the route's health while a grpcio client calls through the proxy over TLS.
@Suite("gRPC health check", .serialized)
struct GRPCHealthTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_peer.py").path
    let probe = HealthProbe(group: MultiThreadedEventLoopGroup.singleton)

    /// grpc_peer.py's server on a port the OS chose.
    static func server() async throws -> (port: Int, process: ChildProcess) {
        let child = try ChildProcess(argv: ["python3", script, "server"])
        let printed = await eventually(timeout: .seconds(10)) { child.output.contains("port ") }
        guard printed, let port = Int(child.output.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else {
            child.stop()
            throw LocalServer.ServerFailed(description: "grpc_peer.py did not start: \(child.output)")
        }
        return (port, child)
    }

    @Test func servingNotServingAndAnUnknownNameFromARealServer() async throws {
        let (port, server) = try await Self.server()
        defer { server.stop() }
        // The server's first call starts its worker threads: a loaded machine gets time for that.
        let whole = await probe.check(.grpc(service: ""), port: port, timeout: .seconds(10), environment: [:], directory: "/")
        #expect(whole == .healthy("grpc SERVING"), "\(whole)")
        let named = await probe.check(
            .grpc(service: "devhost.test.Echo"), port: port, timeout: .seconds(2), environment: [:], directory: "/")
        #expect(named == .healthy("grpc devhost.test.Echo SERVING"), "\(named)")
        let unknown = await probe.speak(.grpc(service: "nope"), port: port, timeout: .seconds(2))
        #expect(unknown == .unhealthy("Health/Check(nope) answered grpc-status 5 NOT_FOUND"), "\(unknown)")

        let set = try run(["python3", Self.script, "health", "127.0.0.1:\(port)", "NOT_SERVING"])
        #expect(set.output.contains("\"ok\""), "\(set.output)")
        let down = await probe.speak(.grpc(service: "devhost.test.Echo"), port: port, timeout: .seconds(2))
        #expect(down == .unhealthy("Health/Check(devhost.test.Echo) answered NOT_SERVING"), "\(down)")
    }

    @Test func notHTTP2SilenceAndARefusedPortAreUnhealthy() async throws {
        let ssh = try await LocalServer.peer("garbage")
        defer { ssh.stop() }
        let started = ContinuousClock.now
        let garbage = await probe.speak(.grpc(service: ""), port: ssh.port, timeout: .seconds(5))
        #expect(!garbage.healthy && garbage.detail.contains("not HTTP/2"), "\(garbage)")
        #expect(ContinuousClock.now - started < .seconds(2), "garbage is recognised, not waited out")

        let deaf = try LocalServer.deaf()
        defer { deaf.close() }
        let silent = await probe.speak(.grpc(service: ""), port: deaf.port, timeout: .milliseconds(300))
        #expect(silent == .unhealthy("grpc on :\(deaf.port): no answer within 300ms"), "\(silent)")

        let closed = try freeLoopbackPort()
        let refused = await probe.speak(.grpc(service: ""), port: closed, timeout: .seconds(1))
        #expect(!refused.healthy && refused.detail.contains("refused"), "\(refused)")
    }

    // MARK: The call's frames, without a server

    typealias Frame = GRPCHealthProbe.Frame

    static func headers(_ fields: [(String, String)], endStream: Bool, encoder: inout HPACKEncoder) -> Frame {
        var block = ByteBuffer()
        try! encoder.encode(headers: HPACKHeaders(fields), to: &block)
        return Frame(type: Frame.headers, flags: Frame.endHeaders | (endStream ? Frame.endStream : 0), stream: 1, payload: block)
    }

    static func data(_ bytes: [UInt8], endStream: Bool = false) -> Frame {
        Frame(type: Frame.data, flags: endStream ? Frame.endStream : 0, stream: 1, payload: ByteBuffer(bytes: bytes))
    }

    static let settings = Frame(type: Frame.settings, flags: 0, stream: 0, payload: ByteBuffer())
    static let ack = Frame(type: Frame.settings, flags: Frame.ack, stream: 0, payload: ByteBuffer()).bytes

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        /// Builds the server's frames (one encoder: its dynamic table spans the blocks, as on a connection).
        var frames: @Sendable (inout HPACKEncoder) -> [Frame]
        var outcome: ProbeOutcome
        var testDescription: String { name }
    }

    static let ok: [(String, String)] = [(":status", "200"), ("content-type", "application/grpc")]

    static let rows: [Row] = [
        Row(
            name: "SERVING in one message, then trailers",
            frames: { e in
                [
                    headers(ok, endStream: false, encoder: &e), data([0, 0, 0, 0, 2, 0x08, 1]),
                    headers([("grpc-status", "0")], endStream: true, encoder: &e),
                ]
            }, outcome: .healthy("SERVING")),
        Row(
            name: "a message split over frames, with padding",
            frames: { e in
                [
                    headers(ok, endStream: false, encoder: &e),
                    Frame(type: Frame.data, flags: Frame.padded, stream: 1, payload: ByteBuffer(bytes: [2, 0, 0, 0, 0, 0xEE, 0xEE])),
                    data([2, 0x08, 2]), headers([("grpc-status", "0")], endStream: true, encoder: &e),
                ]
            }, outcome: .unhealthy("Health/Check answered NOT_SERVING")),
        Row(
            name: "trailers-only UNIMPLEMENTED (no health service)",
            frames: { e in [headers(ok + [("grpc-status", "12"), ("grpc-message", "Method%20not%20found")], endStream: true, encoder: &e)]
            },
            outcome: .unhealthy("Health/Check answered grpc-status 12 UNIMPLEMENTED: Method not found")),
        Row(
            name: "an empty message is UNKNOWN",
            frames: { e in
                [
                    headers(ok, endStream: false, encoder: &e), data([0, 0, 0, 0, 0]),
                    headers([("grpc-status", "0")], endStream: true, encoder: &e),
                ]
            }, outcome: .unhealthy("Health/Check answered UNKNOWN")),
        Row(
            name: "HTTP 404", frames: { e in [headers([(":status", "404")], endStream: true, encoder: &e)] },
            outcome: .unhealthy("Health/Check answered HTTP status 404, not a gRPC response")),
        Row(
            name: "a reset call",
            frames: { _ in [Frame(type: Frame.reset, flags: 0, stream: 1, payload: ByteBuffer(bytes: [0, 0, 0, 7]))] },
            outcome: .unhealthy("Health/Check: the server reset the call (RST_STREAM, error 7)")),
        Row(
            name: "an end with no grpc-status",
            frames: { e in [headers(ok, endStream: false, encoder: &e), data([0, 0, 0, 0, 2, 0x08, 1], endStream: true)] },
            outcome: .unhealthy("Health/Check: the call ended without grpc-status trailers")),
    ]

    @Test(arguments: rows)
    func readsTheCall(_ row: Row) throws {
        var call = GRPCHealthCall(service: "")
        #expect(try call.receive(Self.settings) == .send(Self.ack))
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var last = GRPCHealthCall.Action.wait
        for frame in row.frames(&encoder) {
            #expect(last == .wait, "the call ended before its last frame")
            last = try call.receive(frame)
        }
        #expect(last == .done(row.outcome))
    }

    @Test func pingsAreAnsweredAndAnHTTP1AnswerIsNotHTTP2() throws {
        var call = GRPCHealthCall(service: "")
        _ = try call.receive(Self.settings)
        let ping = Frame(type: Frame.ping, flags: 0, stream: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(try call.receive(ping) == .send(Frame(type: Frame.ping, flags: Frame.ack, stream: 0, payload: ping.payload).bytes))
        var http1 = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\n\r\n")
        #expect(throws: WireError.self) { try GRPCHealthProbe.frame(&http1) }
        var first = GRPCHealthCall(service: "")
        #expect(throws: WireError.self) { try first.receive(Self.data([0])) }
    }

    @Test func theRequestMessageIsAHealthCheckRequest() {
        #expect(GRPCHealthProbe.message(service: "") == [0, 0, 0, 0, 0])
        #expect(GRPCHealthProbe.message(service: "a.B") == [0, 0, 0, 0, 5, 0x0A, 3] + Array("a.B".utf8))
        #expect(GRPCHealthProbe.varint(300) == [0xAC, 0x02])
    }
}
