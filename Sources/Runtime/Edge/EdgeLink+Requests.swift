import Foundation

/// A project's questions to the shared edge's request inspector: sent as `requests` messages and
/// answered by the edge, for this project's exchanges only, matched by id (a replay's answer may
/// come after other messages).
extension EdgeLink: RequestSource {
    func answer(_ query: RequestQuery) async -> RequestAnswer {
        guard let connection else {
            return .error(503, "the edge proxy is not connected (it is starting again): try again in a moment")
        }
        guard welcomeFeatures.contains("requests") else {
            return .error(
                409,
                "the running edge proxy (\(welcomeSummary)) predates the request inspector at the edge: "
                    + "restart it with `devhost proxy restart` (running projects register again by themselves)")
        }
        nextQuery += 1
        let id = nextQuery
        var message = EdgeMessage(.requests)
        message.id = id
        message.query = query
        let line = message.encoded()
        guard line.count <= EdgeProtocol.maxLine else {
            return .error(413, "the edits are too large to send to the edge proxy (\(EdgeProtocol.maxLine >> 20) MiB at most)")
        }
        // A replay waits for the upstream (RequestReplay gives it 30 s); the rest are quick.
        let limit: Duration = query.op == .replay ? .seconds(35) : .seconds(10)
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.unanswered(id)
        }
        let answer = await withCheckedContinuation { continuation in
            queries[id] = continuation
            connection.send(encoded: line)
        }
        timeout.cancel()
        return answer ?? .error(502, "the edge proxy did not answer (it may have stopped): try again in a moment")
    }

    private func unanswered(_ id: Int) {
        queries.removeValue(forKey: id)?.resume(returning: nil)
    }
}
