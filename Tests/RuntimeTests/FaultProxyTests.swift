import DevhostManifest
import DevhostProxy
import DevhostRuntime
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

/// Faults in the real proxy: real Python services (HTTP/1.1 keep-alive), a real keep-alive Python
/// client (Tests/Scripts/fault_client.py) on loopback ports the OS chose, the rules installed in
/// the supervisor's table as the control API does.
@Suite(.serialized) struct FaultProxyTests {
    final class World: Stoppable, @unchecked Sendable {
        let harness: Harness
        let proxy: ProxyServer
        var faults: FaultTable { harness.supervisor.routes.faults }

        init() async throws {
            harness = try Harness(
                """
                name: shop
                services:
                  api:
                    command: python3 faulty.py
                    route: api
                    health: { http: /healthz, interval: 100ms, retries: 1 }
                  web:
                    command: python3 faulty.py
                    route: web
                    health: { http: /healthz, interval: 100ms, retries: 1 }
                """, files: ["faulty.py": faultUpstream])
            try await harness.start()
            #expect(await harness.waitFor("all services are up"))
            var settings = ProxyContext.Settings()
            settings.accessLog = .off
            let context = ProxyContext(
                routes: ProxyRoutes(ProxyRoutes.routes(for: harness.manifest)), instances: harness.supervisor.routes, settings: settings)
            proxy = try await ProxyServer.start(host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
        }

        struct Outcome: Decodable {
            var statuses: [String: Int]
            var faults: [String: Int]
            var unfaultedErrors: Int
            var resets: Int
            var closes: Int
            var errors: [String]
            var seconds: [Double]
            var bytes: [Int]
            func count(_ status: Int) -> Int { statuses[String(status)] ?? 0 }
            var median: Double { seconds.sorted()[seconds.count / 2] }
        }

        /// `count` requests over one keep-alive connection (a new one after a close or reset).
        func requests(_ count: Int, _ path: String = "/", host: String = "api.shop.localhost") throws -> Outcome {
            let script = repositoryRoot.appendingPathComponent("Tests/Scripts/fault_client.py").path
            let result = try run(["python3", script, String(proxy.port), host, path, String(count)])
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            do {
                return try decoder.decode(Outcome.self, from: Data(result.output.utf8))
            } catch {
                Issue.record("fault_client.py: \(result.output)")
                throw error
            }
        }

        @discardableResult
        func install(_ values: [String: String]) throws -> FaultRule {
            faults.install(try FaultInput.parse(values))
        }

        func stop() async {
            faults.clear()
            await proxy.close()
            await harness.stop()
        }
    }

    func withWorld(_ body: (World) async throws -> Void) async throws {
        try await using(World(), body)
    }

    @Test func latencyIsWhatWasAskedForOnTopOfTheBaseline() async throws {
        try await withWorld { world in
            let baseline = try world.requests(5).median
            let rule = try world.install(["service": "api", "latency": "250ms"])
            let slow = try world.requests(5)
            #expect(slow.count(200) == 5 && slow.faults[rule.id] == 5, "\(slow)")
            let added = slow.median - baseline
            #expect(added >= 0.2 && added <= 0.3, "asked 250ms, added \(Int(added * 1000))ms over \(Int(baseline * 1000))ms")
            // Another service's requests are not delayed, and carry no fault id.
            let other = try world.requests(5, host: "web.shop.localhost")
            #expect(other.median < 0.15 && other.faults.isEmpty, "\(other)")
        }
    }

    @Test func errorsFollowTheirRateOverAThousandRequests() async throws {
        try await withWorld { world in
            let rule = try world.install(["service": "api", "error": "503", "rate": "0.2"])
            let outcome = try world.requests(1000)
            let errors = outcome.count(503)
            // Five standard deviations of Binomial(1000, 0.2) either side: a correct proxy fails this
            // about once in two million runs.
            let bound = 5 * (1000 * 0.2 * 0.8).squareRoot()
            #expect(abs(Double(errors) - 200) <= bound, "\(errors) errors in 1000")
            #expect(errors + outcome.count(200) == 1000 && outcome.errors.isEmpty, "\(outcome.statuses) \(outcome.errors)")
            // Every injected error names its fault; no successful response does.
            #expect(outcome.faults == [rule.id: errors])
            #expect(outcome.unfaultedErrors == 0)
        }
    }

    @Test func aZeroRateRuleTouchesNothing() async throws {
        try await withWorld { world in
            try world.install(["service": "api", "error": "503", "rate": "0"])
            let outcome = try world.requests(200)
            #expect(outcome.count(200) == 200 && outcome.faults.isEmpty, "\(outcome.statuses)")
        }
    }

    @Test func resetsReachTheClientAsConnectionResets() async throws {
        try await withWorld { world in
            try world.install(["service": "api", "reset": "1"])
            let outcome = try world.requests(5)
            #expect(outcome.resets == 5 && outcome.closes == 0, "\(outcome)")
            try world.install(["service": "api", "reset": "1", "rate": "0.5"])
            let half = try world.requests(200)
            #expect(half.resets + half.count(200) == 200 && half.errors.isEmpty, "\(half)")
            #expect(abs(Double(half.resets) - 100) <= 5 * (200 * 0.25).squareRoot(), "\(half.resets) resets in 200")
        }
    }

    @Test func onlyTheFaultedServiceAndPathAreAffected() async throws {
        try await withWorld { world in
            let rule = try world.install(["service": "api", "error": "502", "path": "/checkout"])
            for path in ["/checkout", "/checkout/pay?x=1"] {
                let hit = try world.requests(3, path)
                #expect(hit.count(502) == 3 && hit.faults[rule.id] == 3, "\(path): \(hit.statuses)")
            }
            for (path, host) in [("/", "api.shop.localhost"), ("/checkoutx", "api.shop.localhost"), ("/checkout", "web.shop.localhost")] {
                let miss = try world.requests(3, path, host: host)
                #expect(miss.count(200) == 3 && miss.faults.isEmpty, "\(host)\(path): \(miss.statuses)")
            }
        }
    }

    @Test func faultsExpireAndClear() async throws {
        try await withWorld { world in
            try world.install(["service": "api", "error": "503", "for": "400ms"])
            #expect(try world.requests(2).count(503) == 2)
            // The table empties itself at the expiry (the proxy already ignores an expired rule).
            #expect(await eventually(timeout: .seconds(5)) { world.faults.active().isEmpty })
            #expect(try world.requests(2).count(200) == 2)

            try world.install(["service": "api", "error": "500"])
            try world.install(["service": "web", "error": "500"])
            #expect(try world.requests(1).count(500) == 1)
            #expect(world.faults.clear(service: "api").count == 1)
            #expect(try world.requests(2).count(200) == 2)
            #expect(try world.requests(1, host: "web.shop.localhost").count(500) == 1)
            world.faults.clear()
            #expect(try world.requests(1, host: "web.shop.localhost").count(200) == 1)
        }
    }

    @Test func bandwidthPacesTheResponseBody() async throws {
        try await withWorld { world in
            let size = 256 * 1024
            let fast = try world.requests(1, "/big?n=\(size)")
            let rule = try world.install(["service": "api", "bandwidth": "512KiB/s"])
            let paced = try world.requests(2, "/big?n=\(size)")
            #expect(paced.bytes == [size, size] && paced.faults[rule.id] == 2, "\(paced)")
            // Half a second a body at 512 KiB/s, ±20% (the first 10 KiB go at once). The pacing is a floor
            // of its own; only the ceiling allows for the unpaced request's time.
            for seconds in paced.seconds {
                #expect(seconds >= 0.4 && seconds <= 0.6 + fast.median, "256 KiB took \(seconds)s (unpaced \(fast.median)s)")
            }
        }
    }
}

extension FaultProxyTests {
    /// The service's stable TCP port, as a client that is not HTTP-aware sees it: raw sockets.
    @Test func theStablePortDelaysOrResetsConnections() async throws {
        try await withWorld { world in
            let port = try #require(await world.harness.supervisor.stablePorts["api"])
            let probe = """
                import socket, sys, time
                out = []
                for _ in range(3):
                    start = time.monotonic()
                    try:
                        # On a busy machine the reset can come before connect() returns.
                        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                        s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                        data = s.recv(100)
                        out.append("%s:%.3f" % (data[:12].decode(), time.monotonic() - start))
                    except (ConnectionResetError, BrokenPipeError):
                        out.append("reset")
                        continue
                    s.close()
                print(",".join(out))
                """
            func connections() throws -> [String] {
                try run(["python3", "-c", probe, String(port)]).output.trimmingCharacters(in: .whitespacesAndNewlines)
                    .split(separator: ",").map(String.init)
            }
            let baseline = try connections().compactMap { Double($0.split(separator: ":").last ?? "") }.max() ?? 1
            try world.install(["service": "api", "latency": "250ms"])
            for answer in try connections() {
                let parts = answer.split(separator: ":")
                let seconds = Double(parts.last ?? "") ?? 0
                // The delay is a floor of its own; the baseline only widens the ceiling.
                #expect(parts.first == "HTTP/1.1 200" && seconds >= 0.24 && seconds <= 0.3 + baseline, "\(answer)")
            }
            try world.install(["service": "api", "reset": "1"])
            let resets = try connections()
            #expect(resets == ["reset", "reset", "reset"])
            // A rule for a path never applies to a byte stream.
            world.faults.clear()
            try world.install(["service": "api", "reset": "1", "path": "/x"])
            let untouched = try connections()
            #expect(untouched.count == 3 && untouched.allSatisfy { $0.hasPrefix("HTTP/1.1 200") }, "\(untouched)")
        }
    }
}

extension FaultProxyTests {
    /// A bandwidth fault on the stable TCP port paces both directions, each to the limit: an upload
    /// of 128 KiB and a download of 256 KiB at 256 KiB/s, over raw sockets, each on a new connection.
    @Test func theStablePortPacesBothDirectionsToTheBandwidth() async throws {
        try await withWorld { world in
            let port = try #require(await world.harness.supervisor.stablePorts["api"])
            let probe = """
                import socket, sys, time
                port, upload, download = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
                def exchange(request):
                    s = socket.create_connection(("127.0.0.1", port), timeout=20)
                    start = time.monotonic()
                    s.sendall(request)
                    data = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    s.close()
                    body = data.partition(b"\\r\\n\\r\\n")[2]
                    return "%s:%.3f" % (body.decode() if len(body) < 20 else len(body), time.monotonic() - start)
                up = exchange(b"POST /count HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nContent-Length: %d\\r\\n\\r\\n" % upload + b"u" * upload)
                down = exchange(b"GET /big?n=%d HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n" % download)
                print(up + "," + down)
                """
            let (upload, download) = (128 * 1024, 256 * 1024)
            func exchanges() throws -> [(bytes: String, seconds: Double)] {
                try run(["python3", "-c", probe, String(port), String(upload), String(download)]).output
                    .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map {
                        let parts = $0.split(separator: ":")
                        return (String(parts.first ?? ""), Double(parts.last ?? "") ?? 0)
                    }
            }
            let fast = try exchanges()
            #expect(fast.map(\.bytes) == [String(upload), String(download)] && fast.allSatisfy { $0.seconds < 0.3 }, "\(fast)")
            try world.install(["service": "api", "bandwidth": "256KiB/s"])
            let paced = try exchanges()
            #expect(paced.map(\.bytes) == [String(upload), String(download)], "\(paced)")
            // Half a second up and one down at 256 KiB/s, less the first burst (5 KiB), within 25%.
            #expect(paced.count == 2 && paced[0].seconds >= 0.4 && paced[0].seconds <= 0.625, "128 KiB up: \(paced)")
            #expect(paced.count == 2 && paced[1].seconds >= 0.8 && paced[1].seconds <= 1.25, "256 KiB down: \(paced)")
        }
    }
}

/// An HTTP/1.1 keep-alive service: `/healthz`, `/big?n=BYTES`, a POST answered with the length of
/// its body, and anything else answered with its name and the path it got.
let faultUpstream = #"""
    import os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Head and body are two writes: without this, Nagle holds the body for the proxy's delayed ACK.
        disable_nagle_algorithm = True
        def do_GET(self):
            if self.path.startswith("/big?n="):
                body = b"x" * int(self.path[7:])
            else:
                body = ("%s %s" % (os.environ.get("DEVHOST_SERVICE"), self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_POST(self):
            body = str(len(self.rfile.read(int(self.headers["Content-Length"])))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """#
