import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostProxy

/// Streams relayed frame for frame to a gRPC service are first-class: an access-log line, metrics
/// and an inspector entry each, and faults apply to them. A real grpcio server and client
/// (Tests/Scripts/grpc_peer.py) and curl over HTTP/2, through the HTTPS listener.
@Suite("gRPC relay: log, metrics, inspector, faults", .serialized)
struct GRPCRelayRecordTests {
    @Test func everyRelayedCallIsLoggedCountedAndInspected() async throws {
        try await GRPCProxyTests.with(recording: true) { world in
            let out = try world.peer(["client"])
            #expect(out["unary"] as? String == "echo:hello via https", "\(out)")

            // Five calls (unary, server streaming, bidi, a failing one, an unknown method): five lines.
            let logged = await eventually {
                ((try? String(contentsOfFile: world.accessLogPath, encoding: .utf8)) ?? "").split(separator: "\n").count >= 5
            }
            let log = (try? String(contentsOfFile: world.accessLogPath, encoding: .utf8)) ?? ""
            #expect(logged, "\(log)")
            let lines = log.split(separator: "\n").map(String.init)
            let unaryLine = lines.first { $0.hasPrefix("POST echo.localhost/devhost.test.Echo/Unary 200 ") }
            #expect(unaryLine?.hasSuffix("→ echo-1 grpc-status=0") == true, "\(log)")
            #expect(
                lines.contains { $0.hasPrefix("POST echo.localhost/devhost.test.Echo/Fail 200 ") && $0.hasSuffix("grpc-status=9") },
                "\(log)")
            #expect(lines.contains { $0.contains("/devhost.test.Echo/Missing 200 ") && $0.hasSuffix("grpc-status=12") }, "\(log)")

            let metrics = world.context.metrics.prometheus()
            #expect(metrics.contains("devhost_proxy_requests_total{route=\"echo\",status=\"200\"} 5"), "\(metrics)")
            #expect(metrics.contains("devhost_proxy_request_duration_seconds_count{route=\"echo\"} 5"), "\(metrics)")

            let inspector = try #require(world.inspector)
            let recorded = await inspector.requests()
            #expect(recorded.count == 5, "\(recorded.map(\.target))")
            let unary = try #require(recorded.first { $0.target == "/devhost.test.Echo/Unary" })
            #expect(unary.method == "POST" && unary.status == 200 && unary.service == "echo" && unary.instance == "echo-1")
            #expect(unary.state == .complete && !unary.answeredByDevhost)
            #expect(unary.requestHeaders.contains(.init(name: "host", value: "echo.localhost")), "\(unary.requestHeaders)")
            #expect(unary.requestHeaders.contains(.init(name: "content-type", value: "application/grpc")), "\(unary.requestHeaders)")
            // The message as it crossed: a 5-byte gRPC prefix, then the bytes.
            #expect(unary.requestBody == [0, 0, 0, 0, 5] + Array("hello".utf8), "\(unary.requestBody)")
            #expect(String(decoding: unary.responseBody.dropFirst(5), as: UTF8.self) == "echo:hello via https")
            #expect(unary.responseHeaders.contains(.init(name: "content-type", value: "application/grpc")), "\(unary.responseHeaders)")
            #expect(unary.responseTrailers.contains(.init(name: "grpc-status", value: "0")), "\(unary.responseTrailers)")
            let (wait, first, total) = (
                unary.upstreamWaitMilliseconds ?? -1, unary.firstByteMilliseconds ?? -1, unary.totalMilliseconds ?? -1
            )
            #expect(wait >= 0 && wait <= first && first <= total, "\(wait) \(first) \(total)")

            // grpcio answers an aborted call trailers-only: its status is in the one head it sends.
            let fail = try #require(recorded.first { $0.target == "/devhost.test.Echo/Fail" })
            #expect(fail.responseHeaders.contains(.init(name: "grpc-status", value: "9")), "\(fail.responseHeaders)")
            #expect(fail.responseHeaders.contains(.init(name: "grpc-message", value: "not today: x")), "\(fail.responseHeaders)")
            let stream = try #require(recorded.first { $0.target == "/devhost.test.Echo/ServerStream" })
            #expect(stream.responseBodySize == 3 * (5 + 6), "three framed messages of 6 bytes: \(stream.responseBodySize)")
        }
    }

    /// curl over HTTP/2 with a hand-framed gRPC message: the head and trailers it printed, the body
    /// it saved, and its timings (seconds from the request's start to the response's end, and in
    /// all; curl's own time to the first byte does not move for a POST over HTTP/2).
    struct Call {
        var headers: String
        var body: [UInt8]
        var waited: Double
        var total: Double
    }

    static func curl(_ world: GRPCProxyTests.World, payload: [UInt8], name: String) throws -> Call {
        let (message, headers, body) = (world.data.file("\(name).in"), world.data.file("\(name).headers"), world.data.file("\(name).out"))
        let length = UInt32(payload.count)
        let framed = [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + payload
        try Data(framed).write(to: URL(fileURLWithPath: message))
        let port = world.secure.port
        let result = try run([
            "curl", "-sS", "--http2", "--cacert", world.ca, "--resolve", "echo.localhost:\(port):127.0.0.1",
            "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@\(message)", "-D", headers, "-o", body,
            "-w", "%{time_pretransfer} %{time_starttransfer} %{time_total}", "https://echo.localhost:\(port)/devhost.test.Echo/Unary",
        ])
        let times = result.output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard result.status == 0, times.count == 3 else { throw HarnessFailure(message: "curl: \(result.output)") }
        return Call(
            headers: (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "",
            body: Array((try? Data(contentsOf: URL(fileURLWithPath: body))) ?? Data()), waited: times[2] - times[0], total: times[2])
    }

    @Test func faultsApplyToRelayedCalls() async throws {
        try await GRPCProxyTests.with(recording: true) { world in
            let faults = world.instances.faults

            // An error: a gRPC client reads the status a 503 means to it, UNAVAILABLE, and the fault's id.
            let error = faults.install(FaultInput(service: "echo", errorStatus: 503, errorRate: 1))
            let failed = try world.peer(["unary", "x"])
            #expect(failed["code"] as? String == "UNAVAILABLE", "\(failed)")
            #expect((failed["details"] as? String)?.contains("fault \(error.id): 503 injected") == true, "\(failed)")
            let answered = try Self.curl(world, payload: Array("x".utf8), name: "error")
            #expect(answered.headers.contains("x-devhost-fault: \(error.id)"), "\(answered.headers)")
            #expect(answered.headers.contains("grpc-status: 14"), "\(answered.headers)")
            let local = await world.inspector?.requests().last
            #expect(local?.answeredByDevhost == true && local?.status == 200, "\(String(describing: local))")
            faults.clear()

            // A reset: the stream is reset, the call fails with what grpcio says of a reset stream.
            faults.install(FaultInput(service: "echo", resetRate: 1))
            let reset = try world.peer(["unary", "x"])
            #expect((reset["details"] as? String)?.contains("RST_STREAM") == true, "\(reset)")
            faults.clear()

            // Latency: the call waits before it is forwarded, and says which fault slowed it.
            let slow = faults.install(FaultInput(service: "echo", latencyMilliseconds: 300))
            let delayed = try Self.curl(world, payload: Array("hi".utf8), name: "latency")
            #expect(delayed.waited >= 0.3 && delayed.waited < 0.45, "\(delayed.waited)")
            #expect(
                delayed.headers.contains("x-devhost-fault: \(slow.id)") && delayed.headers.contains("grpc-status: 0"), "\(delayed.headers)")
            #expect(String(decoding: delayed.body.dropFirst(5), as: UTF8.self) == "echo:hi via https")
            faults.clear()

            // Bandwidth: a 16 KiB answer at 16 KiB/s takes about a second, and arrives whole, trailers last.
            faults.install(FaultInput(service: "echo", bytesPerSecond: 16 << 10))
            let payload = [UInt8](repeating: UInt8(ascii: "z"), count: 16 << 10)
            let paced = try Self.curl(world, payload: payload, name: "bandwidth")
            #expect(paced.total >= 0.85, "\(paced.total)")
            #expect(paced.body.count == 5 + 5 + payload.count + 10, "\(paced.body.count)")
            #expect(paced.headers.contains("grpc-status: 0"), "\(paced.headers)")
            faults.clear()

            // With the rules gone, calls pass untouched.
            let plain = try Self.curl(world, payload: Array("ok".utf8), name: "plain")
            #expect(!plain.headers.contains("x-devhost-fault"), "\(plain.headers)")
        }
    }
}
