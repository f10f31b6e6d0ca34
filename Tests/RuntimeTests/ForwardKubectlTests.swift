import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// kubectl forwards through the real kubectl binary talking to `KubeAPIDouble`, a test double of a
/// Kubernetes API server (no cluster runs here), whose pod's port is relayed to a real redis-server.
@Suite(.serialized) struct ForwardKubectlTests {
    typealias Harness = ForwardSSHTests.ForwardHarness

    static func service(_ target: String, port: Int) -> String {
        """
        services:
          cache:
            forward:
              kubectl: { context: staging, namespace: data, target: \(target), remote_port: \(port) }
            health: { redis: true, interval: 200ms }

        """
    }

    /// The service port (16379, naming the container's port) and the pod's own port (6379) both reach
    /// Redis, over kubectl's WebSocket tunnel and over its SPDY fallback (an API server before 1.31).
    @Test(
        .timeLimit(.minutes(1)),
        arguments: [
            ("svc/redis", 16379, true), ("deploy/redis", 6379, false), ("pod/\(KubeAPIDouble.firstPod)", 6379, true),
        ])
    func aKubectlForwardAnswersAsRedisThroughTheAPIServerDouble(target: String, port: Int, websocket: Bool) async throws {
        let redis = try await RedisTestServer()
        defer { redis.stop() }
        let double = try await KubeAPIDouble(relayingTo: redis.port, websocket: websocket)
        defer { double.remove() }
        let harness = try Harness(Self.service(target, port: port), environment: double.environment)
        try await harness.start()
        let healthy = await harness.until("cache.1") { $0.state == .healthy }
        let answer = redisPing(port: try #require(await harness.port("cache")))
        let kubectl = await harness.instance("cache.1")?.pid
        let report = StatusReport.make(
            manifest: await harness.supervisor.manifest, snapshot: await harness.supervisor.snapshot(),
            stablePorts: await harness.supervisor.stablePorts, ready: true, proxyPort: nil, startedAt: Date())
        await harness.stop()
        #expect(healthy, "\(double.log)")
        #expect(answer == "+PONG")
        #expect(report.services.first?.instances.first?.healthDetail == "redis PONG")
        #expect(report.services.first?.remote?.contains(target) == true, "\(String(describing: report.services.first?.remote))")
        // The chain really ran through the double: kubectl resolved the target there and tunnelled to
        // the pod's container port (6379, translated from the service's 16379 when the target is svc/).
        #expect(
            double.log.contains("portforward pod=\(KubeAPIDouble.firstPod) via=\(KubeAPIDouble.transport(websocket: websocket))"),
            "\(double.log)")
        #expect(double.log.contains("forward pod=\(KubeAPIDouble.firstPod) port=6379"))
        if target.hasPrefix("svc/") { #expect(double.log.contains("GET /api/v1/namespaces/data/services/redis")) }
        let pid = try #require(kubectl)
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "kubectl ended with devhost")
    }

    /// kubectl killed: restarted (one restart); the pod rescheduled under it (kubectl says "lost
    /// connection to pod" and exits, as it does not follow pods): restarted again onto the new pod.
    @Test(.timeLimit(.minutes(1))) func aKilledKubectlAndARescheduledPodAreEachARestart() async throws {
        let redis = try await RedisTestServer()
        defer { redis.stop() }
        let double = try await KubeAPIDouble(relayingTo: redis.port)
        defer { double.remove() }
        let harness = try Harness(Self.service("svc/redis", port: 16379), environment: double.environment)
        try await harness.start()
        #expect(await harness.until("cache.1") { $0.state == .healthy })
        let first = try #require(await harness.instance("cache.1")?.pid)
        let port = try #require(await harness.port("cache"))

        kill(first, SIGKILL)
        let killedAt = ContinuousClock.now
        let back = await harness.until("cache.1", timeout: .seconds(10)) { $0.state == .healthy && $0.pid != nil && $0.pid != first }
        let restoredIn = ContinuousClock.now - killedAt
        let afterKill = await harness.instance("cache.1")
        let answerAfterKill = redisPing(port: port)

        double.reschedule()
        let second = afterKill?.pid
        let followed = await harness.until("cache.1", timeout: .seconds(10)) { $0.state == .healthy && $0.pid != nil && $0.pid != second }
        let afterReschedule = await harness.instance("cache.1")
        let answerAfterReschedule = redisPing(port: port)
        let lines = await harness.log.lines
        await harness.stop()
        #expect(back, "\(lines)")
        #expect(restoredIn < .seconds(3), "restored in \(restoredIn)")
        #expect(afterKill?.restarts == 1)
        #expect(answerAfterKill == "+PONG")
        #expect(followed, "\(double.log)")
        #expect(afterReschedule?.restarts == 2)
        #expect(answerAfterReschedule == "+PONG")
        #expect(
            double.log.contains("portforward pod=\(KubeAPIDouble.pod(generation: 2)) via=\(KubeAPIDouble.transport(websocket: true))"),
            "\(double.log)")
    }

    /// The API server double stopped: `waiting for remote`, no restart spent and no kubectl running;
    /// back on its port: healthy again within about a second (the 500 ms poll, kubectl's start).
    @Test(.timeLimit(.minutes(1))) func aStoppedAPIServerMeansWaitingForRemoteAndItsReturnIsHealthySoon() async throws {
        let redis = try await RedisTestServer()
        defer { redis.stop() }
        let double = try await KubeAPIDouble(relayingTo: redis.port)
        defer { double.remove() }
        let harness = try Harness(Self.service("svc/redis", port: 16379), environment: double.environment)
        try await harness.start()
        #expect(await harness.until("cache.1") { $0.state == .healthy })
        double.stop()
        let waiting = await harness.until("cache.1", timeout: .seconds(10)) { $0.state == .waiting("remote") }
        let deadline = ContinuousClock.now + .seconds(2)
        var steady = true
        while ContinuousClock.now < deadline {
            let snapshot = await harness.instance("cache.1")
            steady = steady && snapshot?.state == .waiting("remote") && snapshot?.restarts == 0 && snapshot?.pid == nil
            try await Task.sleep(for: .milliseconds(50))
        }
        let error = await harness.instance("cache.1")?.lastError
        try await double.start()
        let startedAt = ContinuousClock.now
        let healthy = await harness.until("cache.1", timeout: .seconds(10)) { $0.state == .healthy }
        let backIn = ContinuousClock.now - startedAt
        let answer = redisPing(port: try #require(await harness.port("cache")))
        let restarts = await harness.instance("cache.1")?.restarts
        await harness.stop()
        #expect(waiting)
        #expect(steady)
        #expect(error?.contains("127.0.0.1:\(double.port)") == true, "\(String(describing: error))")
        #expect(healthy, "\(double.log)")
        #expect(backIn < .milliseconds(1500), "healthy \(backIn) after the API server came back")
        #expect(answer == "+PONG")
        #expect(restarts == 0)
    }

    /// A forward added by a reload listens on its fixed `port:` as one present at start does, and an
    /// edited `port:` moves its listener (before the fix, a reload gave it an automatic port).
    @Test(.timeLimit(.minutes(1))) func aForwardAddedOrMovedByReloadListensOnItsFixedPort() async throws {
        let redis = try await RedisTestServer()
        defer { redis.stop() }
        let double = try await KubeAPIDouble(relayingTo: redis.port)
        defer { double.remove() }
        let idle = "services:\n  idle:\n    command: sleep 60\n    port: none\n"
        let harness = try Harness(idle, environment: double.environment)
        try await harness.start()
        func forward(port: Int) -> String {
            Self.service("svc/redis", port: 16379).replacingOccurrences(of: "services:\n", with: "")
                .replacingOccurrences(of: "    health:", with: "    port: \(port)\n    health:")
        }
        let ports = try freeLoopbackPorts(2)
        let (first, second) = (ports[0], ports[1])
        try harness.project.write("devhost.yml", idle + forward(port: first))
        let added = await harness.supervisor.apply(try harness.project.load())
        let healthy = await harness.until("cache.1") { $0.state == .healthy }
        let portAfterAdd = await harness.port("cache")
        let answerAfterAdd = redisPing(port: first)

        try harness.project.write("devhost.yml", idle + forward(port: second))
        let moved = await harness.supervisor.apply(try harness.project.load())
        let healthyAgain = await harness.until("cache.1") { $0.state == .healthy && redisPing(port: second) == "+PONG" }
        let portAfterMove = await harness.port("cache")
        let firstStillListens = LocalServer.accepts(first)
        await harness.stop()
        #expect(added.added == ["cache"])
        #expect(healthy, "\(double.log)")
        #expect(portAfterAdd == first)
        #expect(answerAfterAdd == "+PONG")
        #expect(moved.changed == ["cache"])
        #expect(healthyAgain)
        #expect(portAfterMove == second)
        #expect(!firstStillListens, "the old port was let go")
    }
}

/// A test double of a Kubernetes API server (Tests/Scripts/kube_api_double.py), named as one: it
/// serves discovery, namespace `data` with service, deployment and pod `redis`, and the pod's
/// portforward subresource, relaying the pod's port 6379 to a real local server. Its kubeconfig (a
/// context `staging`, plain HTTP on loopback) and a HOME for kubectl's cache are in its own folder.
final class KubeAPIDouble: @unchecked Sendable {
    static let firstPod = pod(generation: 1)

    /// kubectl 1.31 and later ask for the WebSocket tunnel first; older ones (Debian's 1.20, which
    /// install-deps falls back to) speak only SPDY/3.1, which the double serves as well.
    static let kubectlTriesWebSocket: Bool = {
        guard let result = try? run(["kubectl", "version", "--client", "-o", "json"]), result.status == 0,
            let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let client = json["clientVersion"] as? [String: Any], let minor = (client["minor"] as? String)?.prefix(while: \.isNumber)
        else { return false }
        return (Int(minor) ?? 0) >= 31
    }()

    /// The transport the double should see: the WebSocket tunnel when it offers it and kubectl asks.
    static func transport(websocket: Bool) -> String { websocket && kubectlTriesWebSocket ? "websocket" : "spdy" }
    static func pod(generation: Int) -> String { "redis-5d8f9c7b4-g\(generation)" }

    let folder: String
    private(set) var port = 0
    private let arguments: [String]
    private let lock = NSLock()
    private var child: ChildProcess?
    private var earlierOutput = ""

    init(relayingTo localPort: Int, websocket: Bool = true) async throws {
        folder = NSTemporaryDirectory() + "devhost-kube-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/kube_api_double.py").path
        arguments =
            ["python3", "-u", script, "--namespace", "data", "--app", "redis", "--service-port", "16379", "--relay", "6379=\(localPort)"]
            + (websocket ? [] : ["--no-websocket"])
        try await start()
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: double
              cluster: { server: "http://127.0.0.1:\(port)" }
            users:
            - name: developer
              user: { token: not-checked }
            contexts:
            - name: staging
              context: { cluster: double, user: developer, namespace: default }
            current-context: staging

            """
        try kubeconfig.write(toFile: folder + "/kubeconfig", atomically: true, encoding: .utf8)
    }

    /// kubectl reads this kubeconfig and keeps its discovery cache under this HOME.
    var environment: [String: String] { ["KUBECONFIG": folder + "/kubeconfig", "HOME": folder] }

    var log: String { lock.withLock { earlierOutput + (child?.output ?? "") } }

    /// Starts the double (again on the same port after `stop()`) and waits for its `listening` line.
    func start() async throws {
        let child = try ChildProcess(argv: arguments + ["--port", String(port)])
        let listening = {
            child.output.split(separator: "\n").first.flatMap { $0.hasPrefix("listening ") ? Int($0.dropFirst(10)) : nil }
        }
        let up = await eventually { listening() != nil || !child.isRunning }
        guard up, let bound = listening() else {
            child.stop()
            throw LocalServer.ServerFailed(description: "kube_api_double.py did not start:\n\(child.output)")
        }
        lock.withLock {
            self.child = child
            port = bound
        }
    }

    /// The API server goes away with every connection kubectl had to it.
    func stop() {
        guard let child = lock.withLock({ self.child }) else { return }
        child.stop()
        lock.withLock {
            earlierOutput += child.output
            self.child = nil
        }
    }

    /// The pod is replaced by one of another name and its port-forward sessions end.
    func reschedule() {
        if let child = lock.withLock({ self.child }) { kill(child.pid, SIGUSR1) }
    }

    func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
