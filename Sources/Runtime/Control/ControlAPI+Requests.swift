import DevhostManifest
import DevhostProxy
import Foundation

/// The request inspector's endpoints: `GET /v1/requests` (filters, `since`, `follow`),
/// `GET /v1/requests/ID`, `POST /v1/requests/ID/replay` and `POST /v1/requests/masking`. Each is
/// read into a `RequestQuery` and answered by the project's own inspector or, for a project at
/// the shared edge, by the edge (for this project's exchanges only): the same answers either way.
extension ControlAPI {
    func requests(_ request: ControlRequest, segments: [String]) async -> ControlResponse? {
        guard segments.count >= 2, segments[0] == "v1", segments[1] == "requests" else { return nil }
        guard let source = inspection.source(proxyPort: proxyPort, httpsPort: httpsPort) else {
            return .error(404, "the request inspector is off: \(inspection.offReason)")
        }
        var query: RequestQuery
        switch (request.method, segments.count) {
        case ("GET", 2), ("HEAD", 2):
            query = RequestQuery(.list)
            query.services = (request.query["service"] ?? []).filter { !$0.isEmpty }
            query.status = request.first("status").flatMap { $0.isEmpty ? nil : $0 }
            query.path = request.first("path")
            query.text = request.first("text")
            query.since = request.first("since").flatMap(Int.init)
            query.limit = request.first("limit").flatMap(Int.init)
            if request.first("follow") == "1" {
                if let status = query.status, let problem = RequestFilter.problem(status: status) { return .error(400, problem) }
                return follow(source, query)
            }
        case ("POST", 3) where segments[2] == "masking":
            guard let value = request.first("masked"), value == "0" || value == "1" else {
                return .error(400, "masking needs ?masked=1 (secrets masked) or ?masked=0 (shown)")
            }
            query = RequestQuery(.masking)
            query.masked = value == "1"
        case ("GET", 3), ("HEAD", 3):
            guard let id = Int(segments[2]) else { return .error(404, "no request \(segments[2]): ids are numbers") }
            query = RequestQuery(.detail)
            query.id = id
        case ("POST", 4) where segments[3] == "replay":
            guard let id = Int(segments[2]) else { return .error(404, "no request \(segments[2]): ids are numbers") }
            query = RequestQuery(.replay)
            query.id = id
            query.edits = request.body.isEmpty ? nil : String(decoding: request.body, as: UTF8.self)
        default:
            return .error(405, "\(request.method) is not allowed on \(request.path)")
        }
        let answer = await source.answer(query)
        return .json(answer.status, answer.body)
    }

    /// NDJSON: each matching exchange once it has ended (in id order as they end), until the client
    /// goes. Polls the source with `since` (the edge's answers come the same way).
    private func follow(_ source: any RequestSource, _ query: RequestQuery) -> ControlResponse {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let task = Task {
            var cursor = query.since ?? 0
            var waiting = Set<Int>()
            var epoch: String?
            while !Task.isCancelled {
                var ask = query
                ask.follow = true
                ask.since = min(waiting.min() ?? (cursor + 1), cursor + 1) - 1
                var answer = await source.answer(ask)
                // The edge was started again: its ids begin anew, and so does the follower.
                if answer.status == 200, let now = answer.epoch, let then = epoch, now != then {
                    (cursor, waiting, ask.since) = (0, [], 0)
                    answer = await source.answer(ask)
                }
                if answer.status == 200, let now = answer.epoch { epoch = now }
                // An edge starting again answers nothing for a moment: the follower waits it out.
                if answer.status == 200, let seen = answer.lines {
                    var lines = ""
                    for entry in seen where entry.id > cursor || waiting.contains(entry.id) {
                        if entry.inFlight {
                            waiting.insert(entry.id)
                            continue
                        }
                        waiting.remove(entry.id)
                        lines += entry.summary + "\n"
                    }
                    cursor = max(cursor, answer.lastID ?? cursor)
                    // Entries dropped from the ring while in flight (or ended outside the filter)
                    // are waited for no more.
                    let kept = Set(seen.map(\.id))
                    waiting = waiting.filter(kept.contains)
                    // An empty piece is skipped by the writer; a closed client ends the stream.
                    continuation.yield(lines)
                } else {
                    continuation.yield("")
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return .stream(contentType: "application/x-ndjson", stream)
    }
}

/// What the control API knows of the request inspector: the recorder (the project's own proxy's,
/// or the shared edge that records for the project), or why there is none, and where replays go.
public struct ControlInspection: Sendable {
    public var inspector: Inspector?
    /// The shared edge, when it records this project's exchanges (and no own proxy does).
    public var edge: EdgeLink?
    public var offReason: String
    /// The address replays connect to (the proxy's bind address, loopback for a wildcard bind).
    public var proxyHost: String
    /// Whether the recorder records now (`proxy.inspect` as last loaded: a reload may change it).
    public var recording: @Sendable () -> Bool
    /// The CA of the own proxy's HTTPS listener: replays of exchanges that came over TLS go there.
    public var ca: LocalCAFiles?

    public init(
        inspector: Inspector?, edge: EdgeLink? = nil, offReason: String = "devhost runs without a proxy of its own",
        proxyHost: String = "127.0.0.1", recording: @escaping @Sendable () -> Bool = { true }, ca: LocalCAFiles? = nil
    ) {
        self.inspector = inspector
        self.edge = edge
        self.offReason = offReason
        self.proxyHost = Self.connectable(proxyHost)
        self.recording = recording
        self.ca = ca
    }

    /// Where a wildcard bind (or none) is reached: loopback.
    static func connectable(_ host: String) -> String {
        host == "0.0.0.0" || host == "::" || host.isEmpty ? "127.0.0.1" : host
    }

    func source(proxyPort: Int?, httpsPort: Int?) -> (any RequestSource)? {
        guard recording() else { return nil }
        if let inspector {
            return InspectorDesk.own(inspector, replay: ReplayTarget(host: proxyHost, port: proxyPort, httpsPort: httpsPort, ca: ca))
        }
        return edge
    }
}
