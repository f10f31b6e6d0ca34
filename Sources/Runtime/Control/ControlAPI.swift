import DevhostManifest
import Foundation

/// A request to the control API, read whole (bodies are tiny).
public struct ControlRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: [String]]
    /// Lower-cased names.
    public var headers: [String: String]
    /// The request's body (a replay's edits), at most `ControlHandler.bodyLimit` bytes.
    public var body: [UInt8] = []

    public init(method: String, target: String, headers: [String: String]) {
        self.method = method
        self.headers = headers
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = String(parts.first ?? "/")
        var query: [String: [String]] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let value =
                    kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
                query[key, default: []].append(value)
            }
        }
        self.query = query
    }

    func first(_ key: String) -> String? { query[key]?.first }
}

public enum ControlResponse: Sendable {
    case full(status: Int, contentType: String, body: String)
    /// Written piece by piece as the stream yields; ends when it finishes or the client goes.
    case stream(contentType: String, AsyncStream<String>)

    static func json(_ status: Int, _ body: String) -> ControlResponse {
        .full(status: status, contentType: "application/json", body: body + "\n")
    }

    static func json(_ status: Int, _ fields: [(String, JSONValue)]) -> ControlResponse {
        json(status, JSONValue.object(fields).serialized())
    }

    static func error(_ status: Int, _ message: String) -> ControlResponse {
        json(status, [("error", .string(message))])
    }
}

/// The running devhost's control API (HTTP over the Unix socket, and the dashboard through the proxy):
/// status, logs, events, restart/stop/start, reload, down.
public final class ControlAPI: Sendable {
    public typealias Reload = @Sendable () async -> (applied: Bool, message: String)

    let supervisor: Supervisor
    let log: LogOutput
    let history: LogHistory
    let proxyPort: Int?
    /// The HTTPS listener's port (the project's own or the edge's); nil: none.
    let httpsPort: Int?
    let startedAt: Date
    let reload: Reload
    let shutdown: @Sendable () async -> Void
    let inspection: ControlInspection

    public init(
        supervisor: Supervisor, log: LogOutput, proxyPort: Int?, httpsPort: Int? = nil, startedAt: Date = Date(),
        reload: @escaping Reload,
        shutdown: @escaping @Sendable () async -> Void, inspection: ControlInspection = ControlInspection(inspector: nil)
    ) {
        self.inspection = inspection
        self.supervisor = supervisor
        self.log = log
        self.history = LogHistory(directory: supervisor.stateDirectory + "/logs")
        self.proxyPort = proxyPort
        self.httpsPort = httpsPort
        self.startedAt = startedAt
        self.reload = reload
        self.shutdown = shutdown
    }

    public func status() async -> StatusReport {
        let (manifest, snapshot, ports, ready) = await supervisor.reportParts()
        var report = StatusReport.make(
            manifest: manifest, snapshot: snapshot, stablePorts: ports, ready: ready, proxyPort: proxyPort, httpsPort: httpsPort,
            startedAt: startedAt)
        report.faults = FaultStatus.list(supervisor.routes.faults)
        return report
    }

    public func handle(_ request: ControlRequest) async -> ControlResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        if request.method != "GET", request.method != "HEAD" {
            // Browsers cannot add this header to a cross-site form or a fetch without a CORS preflight
            // (which is never granted), so another site cannot drive devhost through the dashboard.
            guard request.headers["x-devhost-request"] == "1" else {
                return .error(403, "state-changing requests need the header X-Devhost-Request: 1")
            }
        }
        let method = request.method
        let path = segments.joined(separator: "/")
        if let answer = await requests(request, segments: segments) { return answer }
        if path == "v1/faults" { return await faults(request) }
        if method == "GET" || method == "HEAD" {
            switch path {
            case "", "index.html": return .full(status: 200, contentType: "text/html; charset=utf-8", body: DashboardPage.html)
            case "v1/status": return .json(200, await status().json())
            case "v1/logs": return await logs(request)
            case "v1/events": return events()
            default: break
            }
        } else if method == "POST" {
            if segments.count == 4, segments[0] == "v1", segments[1] == "services" {
                return await control(name: segments[2], action: segments[3])
            }
            switch path {
            case "v1/reload":
                let result = await reload()
                return .json(result.applied ? 200 : 422, [("applied", .bool(result.applied)), ("message", .string(result.message))])
            case "v1/down":
                await shutdown()
                return .json(200, "{\"stopped\":true}")
            default: break
            }
        }
        if ["", "index.html", "v1/status", "v1/logs", "v1/events", "v1/reload", "v1/down"].contains(path) {
            return .error(405, "\(method) is not allowed on \(request.path)")
        }
        return .error(404, "no such endpoint: \(request.path) (see docs/control.md)")
    }

    /// What restart, stop and start answer; instances as in `/v1/status`.
    private struct Answer: Encodable {
        var service: String
        var done: Bool
        var message: String
        var instances: [StatusReport.InstanceStatus]
    }

    private func control(name: String, action: String) async -> ControlResponse {
        do {
            let outcome: ControlOutcome
            switch action {
            case "restart": outcome = try await supervisor.exclusive { try await $0.restart(name) }
            case "stop": outcome = try await supervisor.exclusive { try await $0.stopService(name) }
            case "start": outcome = try await supervisor.exclusive { try await $0.startService(name) }
            default: return .error(404, "unknown action \(action) (restart, stop or start)")
            }
            let instances = await status().services.first { $0.name == name }?.instances ?? []
            let answer = Answer(service: outcome.service, done: outcome.done, message: outcome.message, instances: instances)
            return .json(outcome.done ? 200 : 500, StatusReport.encoded(answer))
        } catch let error as SupervisorError {
            return .error(404, "\(error)")
        } catch {
            return .error(500, "\(error)")
        }
    }

    /// NDJSON log lines: history (`n` per request, `since` as Unix seconds), then live lines with `follow`.
    private func logs(_ request: ControlRequest) async -> ControlResponse {
        let services = (request.query["service"] ?? []).filter { !$0.isEmpty }
        // A name becomes a path under .devhost/logs: only names devhost knows, never `../x`.
        let known = Set(await supervisor.manifest.services.map(\.name) + ["devhost"] + history.services())
        if let unknown = services.first(where: { !known.contains($0) }) {
            return .error(404, "no service named \(unknown) (services: \(known.sorted().joined(separator: ", ")))")
        }
        let limit = request.first("n").flatMap(Int.init)
        let since = request.first("since").flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }
        let follow = request.first("follow") == "1"
        // Subscribe before reading history so no line falls between the two.
        let live = follow ? log.follow(services: services.isEmpty ? nil : Set(services)) : nil
        let past = history.lines(services: services, limit: limit, since: since)
        let (stream, continuation) = AsyncStream<String>.makeStream()
        continuation.yield(past.map { $0.json + "\n" }.joined())
        guard let live else {
            continuation.finish()
            return .stream(contentType: "application/x-ndjson", stream)
        }
        let seen = Set(past.suffix(200).map(\.fileLine))
        let lastTime = past.last?.time ?? ""
        let task = Task {
            for await line in live where line.time > lastTime || (line.time == lastTime && !seen.contains(line.fileLine)) {
                continuation.yield(line.json + "\n")
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return .stream(contentType: "application/x-ndjson", stream)
    }

    /// Server-sent events for the dashboard: `status` now and after every change, `log` lines
    /// (the recent ones first).
    private func events() -> ControlResponse {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let live = log.follow()
        let task = Task {
            let changes = await supervisor.events()
            continuation.yield("retry: 1000\n\n")
            continuation.yield(Self.sse("status", await status().json()))
            for line in history.lines(limit: 400) {
                continuation.yield(Self.sse("log", line.json))
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await line in live {
                        continuation.yield(Self.sse("log", line.json))
                    }
                }
                group.addTask {
                    // A comment now and then: idle connections are noticed and nothing in between times out.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(15))
                        continuation.yield(": ping\n\n")
                    }
                }
                group.addTask {
                    for await _ in changes {
                        continuation.yield(Self.sse("status", await self.status().json()))
                    }
                }
                await group.next()
                group.cancelAll()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return .stream(contentType: "text/event-stream", stream)
    }

    static func sse(_ event: String, _ data: String) -> String {
        "event: \(event)\ndata: \(data)\n\n"
    }
}

extension Supervisor {
    /// Everything a status report needs, read in one actor hop.
    func reportParts() -> (Manifest, [InstanceSnapshot], [String: Int], Bool) {
        (manifest, snapshot(), stablePorts, phase.hasBeenReady)
    }
}
