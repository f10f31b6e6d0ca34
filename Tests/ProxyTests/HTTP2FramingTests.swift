import DevhostProxy
import DevhostTestSupport
import Foundation
import Testing

/// HTTP/2 as a frame-level client sees it (nghttp, from nghttp2-client): the bridge writes frames
/// itself, so END_STREAM rides on the head or the last DATA frame, never on an empty frame of its
/// own; streams' deadlines hold with one ticker per connection.
@Suite struct HTTP2FramingTests {
    /// The frames nghttp reports receiving on `stream` (`HEADERS flags=0x04`, `DATA length=N flags=0x01`).
    static func received(_ output: String, stream: Int) -> [(kind: String, length: Int, flags: Int)] {
        output.split(separator: "\n").compactMap { line in
            guard line.contains("recv"), line.contains("stream_id=\(stream)>"),
                let kind = ["HEADERS", "DATA"].first(where: { line.contains(" \($0) frame ") })
            else { return nil }
            func field(_ name: String) -> Int? {
                guard let range = line.range(of: name + "=") else { return nil }
                let digits = line[range.upperBound...].prefix { $0.isHexDigit || $0 == "x" }
                return digits.hasPrefix("0x") ? Int(digits.dropFirst(2), radix: 16) : Int(digits)
            }
            return (kind, field("length") ?? -1, field("flags") ?? -1)
        }
    }

    func nghttp(_ h: HTTPSHarness, _ options: [String], path: String) throws -> String {
        try run(["nghttp", "-v", "-n", "-H", ":authority: api.localhost"] + options + ["https://127.0.0.1:\(h.securePort)\(path)"]).output
    }

    @Test func endStreamRidesOnTheLastDataFrameOrTheHead() async throws {
        try await HTTPSHarness.with { h in
            // A body with a length: HEADERS, then one DATA frame carrying the body and END_STREAM.
            let get = try nghttp(h, [], path: "/echo")
            let getFrames = Self.received(get, stream: 13)
            #expect(getFrames.map(\.kind) == ["HEADERS", "DATA"], "\(get)")
            #expect(getFrames.last?.length ?? 0 > 0 && getFrames.last?.flags == 0x01, "\(get)")

            // A chunked body: its pieces, the last one (or an empty one, when the terminator came
            // alone) with END_STREAM, and never more than one frame with the flag.
            let chunked = try nghttp(h, [], path: "/chunked")
            let chunkedFrames = Self.received(chunked, stream: 13)
            #expect(chunkedFrames.filter { $0.flags & 0x01 != 0 }.count == 1, "\(chunked)")
            #expect(chunkedFrames.last?.kind == "DATA" && chunkedFrames.last?.flags == 0x01, "\(chunked)")

            // HEAD and an empty answer: END_STREAM on the HEADERS frame (END_HEADERS | END_STREAM), no DATA.
            let head = try nghttp(h, ["-H", ":method: HEAD"], path: "/echo")
            #expect(Self.received(head, stream: 13).map(\.kind) == ["HEADERS"], "\(head)")
            #expect(Self.received(head, stream: 13).first?.flags == 0x05, "\(head)")
            let missing = try nghttp(h, [], path: "/nothing-here")
            #expect(missing.contains(":status: 404"), "\(missing)")
            #expect(Self.received(missing, stream: 13).map(\.flags) == [0x05], "\(missing)")
        }
    }

    @Test func aRequestBodyWithoutLengthIsChunkedUpstream() async throws {
        try await HTTPSHarness.with { h in
            let folder = try TempProject(["body.txt": "sent as DATA frames"])
            // nghttp sends a file as DATA frames without content-length when told not to add it.
            let post = try run([
                "nghttp", "-n", "-v", "--no-content-length", "-d", folder.file("body.txt"), "-H", ":authority: api.localhost",
                "https://127.0.0.1:\(h.securePort)/echo",
            ]).output
            #expect(post.contains(":status: 200"), "\(post)")
            let output = try run([
                "nghttp", "--no-content-length", "-d", folder.file("body.txt"), "-H", ":authority: api.localhost",
                "https://127.0.0.1:\(h.securePort)/echo",
            ]).output
            let echo = try HTTPSHarness.echo(output)
            #expect(echo.body == "sent as DATA frames")
            #expect(echo.header("transfer-encoding") == "chunked")
        }
    }

    @Test func aStreamWhoseUpstreamIsSilentGetsAGatewayTimeoutFromTheConnectionsTicker() async throws {
        var settings = ProxyContext.Settings()
        settings.upstreamTimeout = .milliseconds(600)
        let silent = httpsUpstreamScript.replacingOccurrences(
            of: "    def do_GET(self):\n",
            with: "    def do_GET(self):\n        if self.path == \"/silent\":\n            time.sleep(20)\n            return\n")
        #expect(silent.contains("/silent"))
        try await HTTPSHarness.with(upstream: silent, settings: settings) { h in
            // Two streams on one connection: the silent one times out, the other is answered.
            let started = ContinuousClock.now
            let output = try run([
                "nghttp", "-v", "-n", "-H", ":authority: api.localhost", "https://127.0.0.1:\(h.securePort)/silent",
                "https://127.0.0.1:\(h.securePort)/echo",
            ]).output
            #expect(output.contains(":status: 504"), "\(output)")
            #expect(output.contains(":status: 200"), "\(output)")
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }
}
