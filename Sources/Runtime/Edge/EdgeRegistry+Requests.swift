import DevhostProxy

extension EdgeRegistry {
    /// Answers the project on `connection` about its own recorded exchanges (never another
    /// project's): those of its services' routes since it registered, under its services' own
    /// names, masked by its own switch. Replays go to the edge's proxy (`replay`).
    func requests(_ connection: Connection, _ query: RequestQuery, replay: ReplayTarget) async -> RequestAnswer {
        guard let inspector else { return .error(404, "the request inspector is off: the edge proxy records nothing") }
        let found: (key: String, after: Int, inspect: Bool)? = state.withLockedValue { state in
            state.entries[connection].map { (key: $0.key, after: $0.inspectedAfter, inspect: $0.project.inspect == true) }
        }
        guard let found else { return .error(409, "no project is registered on this connection to the edge proxy") }
        guard found.inspect else {
            return .error(404, "the request inspector is off: the project registered with the edge proxy without recording")
        }
        let desk = InspectorDesk(
            inspector, scope: .init(labelPrefix: found.key + "/", after: found.after),
            masked: { self.state.withLockedValue { $0.entries[connection]?.masksSecrets ?? true } },
            setMasked: { value in self.state.withLockedValue { $0.entries[connection]?.masksSecrets = value } },
            replay: replay)
        return await desk.answer(query)
    }
}
