import DevhostManifest
import Foundation
import NIOCore
import NIOPosix

/// Runs one health probe against an instance. Probes identify themselves (`User-Agent: devhost-health`)
/// so applications can keep them out of their access logs.
struct HealthProbe: Sendable {
    let group: EventLoopGroup

    /// nil when healthy, otherwise why not.
    func run(_ probe: HealthCheck.Probe, port: Int?, timeout: Duration, environment: [String: String], directory: String) async -> String? {
        let outcome = await check(probe, port: port, timeout: timeout, environment: environment, directory: directory)
        return outcome.healthy ? nil : outcome.detail
    }

    /// What the probe found either way: a passing one says what answered (`redis PONG`, `postgres
    /// ready for queries as app@app`), which `devhost status` and the dashboard show.
    func check(_ probe: HealthCheck.Probe, port: Int?, timeout: Duration, environment: [String: String], directory: String) async
        -> ProbeOutcome
    {
        switch probe {
        case .tcp:
            guard let port else { return .unhealthy("no port yet") }
            do {
                let channel = try await connect(port: port, timeout: timeout)
                try? await channel.close()
                return .healthy("tcp :\(port) accepts connections")
            } catch {
                return .unhealthy("connect to :\(port): \(Self.describe(error))")
            }
        case .http(let path):
            guard let port else { return .unhealthy("no port yet") }
            return await http(path: path, port: port, timeout: timeout)
        case .exec(let command):
            return await exec(command, timeout: timeout, environment: environment, directory: directory).map(ProbeOutcome.unhealthy)
                ?? .healthy("`\(command)` succeeded")
        case .postgres, .redis, .mysql, .kafka, .grpc:
            guard let port else { return .unhealthy("no port yet") }
            let outcome = await speak(probe, port: port, timeout: timeout)
            let name =
                switch probe {
                case .postgres: "postgres"
                case .redis: "redis"
                case .mysql: "mysql"
                case .grpc: "grpc"
                default: "kafka"
                }
            return outcome.healthy ? .healthy("\(name) \(outcome.detail)") : outcome
        }
    }

    /// The wire-protocol probes (Health/), with what they found either way.
    func speak(_ probe: HealthCheck.Probe, port: Int, timeout: Duration) async -> ProbeOutcome {
        switch probe {
        case .postgres(let user, let database):
            return await converse("postgres", port: port, timeout: timeout, PostgresProbe.conversation(user: user, database: database))
        case .redis(let user, let password):
            return await converse("redis", port: port, timeout: timeout, RedisProbe.conversation(user: user, password: password))
        case .mysql:
            return await converse("mysql", port: port, timeout: timeout, MySQLProbe.conversation())
        case .kafka:
            return await converse("kafka", port: port, timeout: timeout, KafkaProbe.conversation())
        case .grpc(let service):
            return await converse("grpc", port: port, timeout: timeout, GRPCHealthProbe.conversation(service: service, port: port))
        case .http, .tcp, .exec:
            return .unhealthy("not a wire-protocol probe")
        }
    }

    private func connect(port: Int, timeout: Duration) async throws -> Channel {
        try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(DurationText.milliseconds(timeout)))
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// A GET through the same bounded conversation as the wire-protocol probes: healthy on 2xx and 3xx.
    private func http(path: String, port: Int, timeout: Duration) async -> ProbeOutcome {
        let request = Array(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: devhost-health/1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                .utf8)
        let outcome = await converse("GET \(path)", port: port, timeout: timeout) { session in
            try await session.send(request)
            let code = try await session.receive { (buffer: inout ByteBuffer) in Self.statusCode(in: buffer) }
            return (200..<400).contains(code) ? .healthy("GET \(path) answered \(code)") : .unhealthy("GET \(path) answered \(code)")
        }
        return outcome
    }

    static func statusCode(in buffer: ByteBuffer) -> Int? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let parts = String(decoding: buffer.readableBytesView[..<newline], as: UTF8.self).split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return -1 }
        return Int(parts[1]) ?? -1
    }

    private func exec(_ command: String, timeout: Duration, environment: [String: String], directory: String) async -> String? {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(
                ["/bin/sh", "-c", command], environment: environment, directory: directory, outputFD: null)
        } catch {
            return "\(error)"
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            signalGroup(pid, SIGKILL)
        }
        let status = await ChildProcesses.shared.exitStatus(of: pid)
        timer.cancel()
        signalGroup(pid, SIGKILL)
        if status.succeeded { return nil }
        return status == .signaled(SIGKILL) ? "`\(command)` timed out" : "`\(command)` \(status)"
    }

    static func describe(_ error: Error) -> String {
        if error is TimedOut { return "timed out" }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if error is ChannelError { return "connection closed" }
        let text = "\(error)"
        if text.contains("connectTimeout") { return "timed out" }
        if text.contains("refused") { return "connection refused" }
        return text
    }
}

/// Thrown by `withTimeout` when the limit passes first.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String { "timed out" }
}

/// Runs `body`, throwing `TimedOut` if it takes longer than `limit` (the body is cancelled).
public func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
