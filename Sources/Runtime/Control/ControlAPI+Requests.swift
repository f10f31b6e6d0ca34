import DevhostManifest
import DevhostProxy
import Foundation

/// The request inspector's endpoints: `GET /v1/requests` (filters, `since`, `follow`),
/// `GET /v1/requests/ID`, `POST /v1/requests/ID/replay` and `POST /v1/requests/masking`.
extension ControlAPI {
    func requests(_ request: ControlRequest, segments: [String]) async -> ControlResponse? {
        guard segments.count >= 2, segments[0] == "v1", segments[1] == "requests" else { return nil }
        guard let inspector = inspection.inspector else {
            return .error(404, "the request inspector is off: \(inspection.offReason)")
        }
        switch (request.method, segments.count) {
        case ("GET", 2), ("HEAD", 2):
            return await list(request, inspector)
        case ("POST", 3) where segments[2] == "masking":
            guard let value = request.first("masked"), value == "0" || value == "1" else {
                return .error(400, "masking needs ?masked=1 (secrets masked) or ?masked=0 (shown)")
            }
            inspector.masksSecrets = value == "1"
            return .json(200, [("masked", .bool(inspector.masksSecrets))])
        case ("GET", 3), ("HEAD", 3):
            guard let id = Int(segments[2]) else { return .error(404, "no request \(segments[2]): ids are numbers") }
            guard let found = await inspector.request(id: id) else { return Self.gone(id) }
            return .json(200, found.detailJSON(masked: inspector.masksSecrets).serialized())
        case ("POST", 4) where segments[3] == "replay":
            guard let id = Int(segments[2]) else { return .error(404, "no request \(segments[2]): ids are numbers") }
            return await replay(id: id, request: request, inspector)
        default:
            return .error(405, "\(request.method) is not allowed on \(request.path)")
        }
    }

    private static func gone(_ id: Int) -> ControlResponse {
        .error(404, "request \(id) is not kept (the inspector keeps the most recent ones)")
    }

    private func list(_ request: ControlRequest, _ inspector: Inspector) async -> ControlResponse {
        let filter = RequestFilter(
            services: (request.query["service"] ?? []).filter { !$0.isEmpty },
            status: request.first("status").flatMap { $0.isEmpty ? nil : $0 },
            path: request.first("path"), text: request.first("text"))
        if let status = filter.status, let problem = RequestFilter.problem(status: status) { return .error(400, problem) }
        let since = request.first("since").flatMap(Int.init) ?? 0
        if request.first("follow") == "1" { return follow(inspector, filter: filter, since: since) }
        let all = await inspector.requests(after: since)
        var shown = all.filter(filter.matches)
        if let limit = request.first("limit").flatMap(Int.init), limit >= 0 { shown = Array(shown.suffix(limit)) }
        return .json(
            200,
            [
                ("masked", .bool(inspector.masksSecrets)), ("last_id", .int(all.last?.id ?? since)),
                ("requests", .array(shown.map { $0.summaryJSON() })),
            ])
    }

    /// NDJSON: each matching exchange once it has ended (in id order as they end), until the client goes.
    private func follow(_ inspector: Inspector, filter: RequestFilter, since: Int) -> ControlResponse {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let task = Task {
            var cursor = since
            var waiting = Set<Int>()
            while !Task.isCancelled {
                let from = min(waiting.min() ?? (cursor + 1), cursor + 1) - 1
                let seen = await inspector.requests(after: from)
                var lines = ""
                for entry in seen where entry.id > cursor || waiting.contains(entry.id) {
                    if entry.state == .inFlight {
                        waiting.insert(entry.id)
                        continue
                    }
                    waiting.remove(entry.id)
                    if filter.matches(entry) { lines += entry.summaryJSON().serialized() + "\n" }
                }
                cursor = max(cursor, seen.last?.id ?? cursor)
                // Entries dropped from the ring while in flight are waited for no more.
                let kept = Set(seen.map(\.id))
                waiting = waiting.filter(kept.contains)
                // An empty piece is skipped by the writer; a closed client ends the stream.
                continuation.yield(lines)
                try? await Task.sleep(for: .milliseconds(200))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return .stream(contentType: "application/x-ndjson", stream)
    }

    private func replay(id: Int, request: ControlRequest, _ inspector: Inspector) async -> ControlResponse {
        guard let original = await inspector.request(id: id) else { return Self.gone(id) }
        guard let port = proxyPort else { return .error(409, "no proxy of this project's own to replay through") }
        var edits: JSONValue?
        if !request.body.isEmpty {
            do {
                edits = try JSONValue.parse(String(decoding: request.body, as: UTF8.self))
            } catch {
                return .error(400, "the edits are not JSON: \(error)")
            }
        }
        let requestID = "replay-\(id)-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        do throws(ReplayError) {
            let replay = try RequestReplay(original, edits: edits, requestID: requestID)
            let before = await inspector.requests(after: 0).last?.id ?? 0
            let answer = try await replay.send(host: inspection.proxyHost, port: port)
            let recorded = await inspector.requests(after: before).first { $0.requestID == requestID }
            return .json(
                200,
                [
                    ("replayed", .int(id)), ("id", recorded.map { .int($0.id) } ?? .null), ("request_id", .string(requestID)),
                    ("status", .int(answer.status)),
                ])
        } catch {
            return .error(error.description.hasPrefix("cannot reach") ? 502 : 400, error.description)
        }
    }
}

/// What the control API knows of the request inspector: the recorder, or why there is none, and
/// where replays go.
public struct ControlInspection: Sendable {
    public var inspector: Inspector?
    public var offReason: String
    /// The address replays connect to (the proxy's bind address, loopback for a wildcard bind).
    public var proxyHost: String

    public init(inspector: Inspector?, offReason: String = "devhost runs without a proxy of its own", proxyHost: String = "127.0.0.1") {
        self.inspector = inspector
        self.offReason = offReason
        self.proxyHost = proxyHost == "0.0.0.0" || proxyHost == "::" || proxyHost.isEmpty ? "127.0.0.1" : proxyHost
    }
}
