import DevhostManifest
import DevhostProxy
import Foundation

/// Where a replay goes: the proxy that recorded the original, by the way the original came (an
/// exchange that came over TLS goes to the HTTPS listener over TLS, so that it is the same request
/// to the service and no browser redirect to HTTPS answers it instead).
struct ReplayTarget: Sendable {
    var host: String
    /// The plain listener (nil: none).
    var port: Int?
    /// The HTTPS listener, and the CA whose certificates it serves (nil: none; secure exchanges
    /// then go to the plain listener).
    var httpsPort: Int?
    var ca: LocalCAFiles?
}

/// Answers the request inspector's questions (list, one exchange, replay, masking) from one
/// `Inspector` for one reader. A project's own proxy answers its project with every exchange; the
/// shared edge answers each project with that project's exchanges only (`Scope`), its services
/// under the names the project gives them, and the project's own masking switch.
struct InspectorDesk: RequestSource {
    /// Which exchanges the reader may see.
    struct Scope: Sendable {
        /// Only those counted under a label starting with this (`key/` at the edge), shown without
        /// it; nil: every one.
        var labelPrefix: String?
        /// Only ids above this: at the edge, what was recorded before the project registered
        /// belonged to whoever had its key before.
        var after = 0
    }

    let inspector: Inspector
    let scope: Scope
    let masked: @Sendable () -> Bool
    let setMasked: @Sendable (Bool) -> Void
    let replayTarget: ReplayTarget

    init(
        _ inspector: Inspector, scope: Scope = Scope(), masked: @escaping @Sendable () -> Bool,
        setMasked: @escaping @Sendable (Bool) -> Void, replay: ReplayTarget
    ) {
        self.inspector = inspector
        self.scope = scope
        self.masked = masked
        self.setMasked = setMasked
        self.replayTarget = replay
    }

    /// A project's own proxy's inspector, with its own masking switch.
    static func own(_ inspector: Inspector, replay: ReplayTarget) -> InspectorDesk {
        InspectorDesk(inspector, masked: { inspector.masksSecrets }, setMasked: { inspector.masksSecrets = $0 }, replay: replay)
    }

    func answer(_ query: RequestQuery) async -> RequestAnswer {
        switch query.op {
        case .list:
            return await list(query)
        case .detail:
            guard let id = query.id, let found = await request(id: id) else { return Self.gone(query.id ?? 0) }
            return RequestAnswer(status: 200, body: found.detailJSON(masked: masked()).serialized())
        case .masking:
            guard let value = query.masked else { return .error(400, "masking needs masked: true or false") }
            setMasked(value)
            return .json(200, [("masked", .bool(masked()))])
        case .replay:
            guard let id = query.id else { return Self.gone(0) }
            return await replay(id: id, edits: query.edits)
        }
    }

    static func gone(_ id: Int) -> RequestAnswer {
        .error(404, "request \(id) is not kept (the inspector keeps the most recent ones)")
    }

    /// The reader's exchanges with an id above `after`, oldest first, services as it names them.
    private func requests(after: Int) async -> [InspectedRequest] {
        let found = await inspector.requests(after: max(after, scope.after), labelPrefix: scope.labelPrefix)
        guard let prefix = scope.labelPrefix else { return found }
        return found.map { request in
            var request = request
            request.service = String(request.service.dropFirst(prefix.count))
            return request
        }
    }

    private func request(id: Int) async -> InspectedRequest? {
        guard id > scope.after, var found = await inspector.request(id: id, labelPrefix: scope.labelPrefix) else { return nil }
        if let prefix = scope.labelPrefix { found.service = String(found.service.dropFirst(prefix.count)) }
        return found
    }

    private func list(_ query: RequestQuery) async -> RequestAnswer {
        let filter = RequestFilter(
            services: (query.services ?? []).filter { !$0.isEmpty }, status: query.status.flatMap { $0.isEmpty ? nil : $0 },
            path: query.path, text: query.text)
        if let status = filter.status, let problem = RequestFilter.problem(status: status) { return .error(400, problem) }
        let since = query.since ?? 0
        let all = await requests(after: since)
        let lastID = all.last?.id ?? since
        if query.follow == true {
            let lines = all.filter { $0.state == .inFlight || filter.matches($0) }.map {
                RequestAnswer.Line(id: $0.id, inFlight: $0.state == .inFlight, summary: $0.summaryJSON().serialized())
            }
            return RequestAnswer(status: 200, body: "", lines: lines, lastID: lastID, epoch: inspector.idEpoch)
        }
        var shown = all.filter(filter.matches)
        if let limit = query.limit, limit >= 0 { shown = Array(shown.suffix(limit)) }
        return .json(
            200,
            [
                ("masked", .bool(masked())), ("epoch", .string(inspector.idEpoch)), ("last_id", .int(lastID)),
                ("requests", .array(shown.map { $0.summaryJSON() })),
            ])
    }

    private func replay(id: Int, edits text: String?) async -> RequestAnswer {
        guard let original = await request(id: id) else { return Self.gone(id) }
        let target = replayTarget
        let overTLS = original.secure ? target.httpsPort.flatMap { port in target.ca.map { (port, $0) } } : nil
        guard let port = overTLS?.0 ?? target.port else { return .error(409, "no proxy of this project's own to replay through") }
        var tls: TLSClient?
        if let ca = overTLS?.1 {
            do {
                tls = try TLSClient(trusting: ca)
            } catch {
                return .error(502, "cannot read devhost's CA at \(ca.certificate) to replay over HTTPS: \(error)")
            }
        }
        var edits: JSONValue?
        if let text, !text.isEmpty {
            do {
                edits = try JSONValue.parse(text)
            } catch {
                return .error(400, "the edits are not JSON: \(error)")
            }
        }
        let requestID = "replay-\(id)-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        do throws(ReplayError) {
            let replay = try RequestReplay(original, edits: edits, requestID: requestID)
            let before = inspector.lastID
            let answer = try await replay.send(host: target.host, port: port, tls: tls)
            let recorded = await requests(after: before).first { $0.requestID == requestID }
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
