import DevhostManifest
import DevhostProxy
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `up`'s wiring without the binary: a session on a temporary project with a real child process,
/// reached through its proxy and its control socket, then stopped; and starts that fail half-way.
@Suite(.serialized) struct UpSessionTests {
    static let manifest = """
        name: shop
        services:
          web:
            command: python3 server.py
            route: [web]
        """

    /// A project, a session over it with the proxy on `proxyPort` (0: the OS picks), and a marker in
    /// every service's environment.
    final class Fixture: @unchecked Sendable {
        let project: TempProject
        let marker = "up-session-\(UUID().uuidString.prefix(8))"
        let session: UpSession
        let state: ProjectState

        init(proxyPort: Int = 0, files: [String: String] = [:]) throws {
            project = try TempProject(
                files.merging(["devhost.yml": UpSessionTests.manifest, "server.py": serverScript]) { mine, _ in mine })
            let manifest = try project.load()
            state = try ProjectState(manifest: manifest)
            var environment = ProcessInfo.processInfo.environment
            environment["DEVHOST_TEST_MARKER"] = marker
            var settings = ProxyContext.Settings()
            settings.accessLog = .off
            let log = LogOutput(options: .init(directory: state.logs, descriptor: open("/dev/null", O_WRONLY)))
            let project = self.project
            session = UpSession(
                .init(
                    manifest: manifest, state: state, log: log, reload: { try project.load() },
                    proxy: .init(
                        host: "127.0.0.1", port: proxyPort, settings: settings, accessLog: nil,
                        routeFile: RouteFile(path: project.file("routes.yml"))),
                    handleSignals: false, environment: environment, warn: { _ in }))
        }

        /// Ends anything the test left running (after a failed expectation), and says what it was.
        func leftovers() -> [String] {
            let left = livingProcesses(withMarker: marker)
            for entry in left { if let pid = Int32(entry.prefix { $0 != ":" }) { kill(pid, SIGKILL) } }
            return left
        }
    }

    @Test func aSessionServesItsServiceThroughTheProxyAndTheControlSocketAndStopsEveryPart() async throws {
        let fixture = try Fixture()
        let session = fixture.session
        try await session.start()
        #expect(await session.running == ["route file watcher", "proxy", "control server", "supervisor", "file watcher", "summary"])
        let ended = Task { await session.run() }
        let port = try #require(await session.proxyPort)
        #expect(port > 0)

        var answer = (status: 0, body: "")
        let routed = await eventually(timeout: .seconds(30)) {
            answer = Self.get(port: port, host: "web.shop.localhost")
            return answer.status == 200
        }
        #expect(routed, "the proxy never routed web.shop.localhost (last: \(answer))")
        #expect(answer.body == "web 1")

        let client = ControlClient(state: fixture.state)
        let status = try client.get("/v1/status")
        #expect(status.status == 200)
        #expect(status.text.contains("web"))
        let pid = try #require(await session.supervisor.snapshot().first?.pid)

        await session.stop()
        let outcome = await ended.value
        #expect(outcome.failed.isEmpty)
        #expect(!outcome.signalled)
        #expect(await session.running.isEmpty)
        #expect(await session.stopped == ["summary", "file watcher", "supervisor", "control server", "proxy", "route file watcher"])
        #expect(!FileManager.default.fileExists(atPath: fixture.state.controlSocket), "the control socket file is still there")
        #expect(!Self.accepts(port: port), "the proxy's port still accepts connections")
        #expect(kill(pid, 0) != 0 && errno == ESRCH, "the service's process \(pid) is still there")
        #expect(fixture.leftovers().isEmpty)
    }

    @Test func aTakenProxyPortFailsTheStartAndStopsTheRouteFileWatcher() async throws {
        let listener = try TakenPort()
        defer { listener.close() }
        let fixture = try Fixture(proxyPort: listener.port)
        let session = fixture.session
        do {
            try await session.start()
            Issue.record("the session started on a taken port")
        } catch .proxyListen(let host, let port, let holder) {
            #expect(host == "127.0.0.1" && port == listener.port)
            #expect(holder?.contains("pid \(getpid())") == true, "the holder is not named: \(holder ?? "nil")")
        } catch {
            Issue.record("unexpected failure: \(error)")
        }
        #expect(await session.running.isEmpty)
        #expect(await session.stopped == ["route file watcher"])
        #expect(!FileManager.default.fileExists(atPath: fixture.state.controlSocket))
        #expect(await session.supervisor.snapshot().isEmpty, "a service was started")
        #expect(fixture.leftovers().isEmpty)
    }

    @Test func aControlSocketThatCannotOpenClosesTheProxyAlreadyListening() async throws {
        // A folder where the socket goes: binding refuses to replace what is not a socket.
        let fixture = try Fixture(files: [".devhost/control.sock/keep": ""])
        let session = fixture.session
        do {
            try await session.start()
            Issue.record("the session started without its control socket")
        } catch .controlSocket(let path, _) {
            #expect(path == fixture.state.controlSocket)
        } catch {
            Issue.record("unexpected failure: \(error)")
        }
        let port = try #require(await session.proxyPort)
        #expect(await session.running.isEmpty)
        #expect(await session.stopped == ["proxy", "route file watcher"])
        #expect(!Self.accepts(port: port), "the proxy still listens after the failed start")
        #expect(fixture.leftovers().isEmpty)
    }

    /// A GET through the proxy with curl: status 0 when nothing answered.
    static func get(port: Int, host: String) -> (status: Int, body: String) {
        guard
            let result = try? run([
                "curl", "-s", "--max-time", "5", "-H", "Host: \(host)", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/",
            ])
        else { return (0, "") }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Whether something accepts a TCP connection on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A loopback port held by a listening socket of the test process.
struct TakenPort {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, listen(fd, 8) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Foundation.close(fd) }
}
