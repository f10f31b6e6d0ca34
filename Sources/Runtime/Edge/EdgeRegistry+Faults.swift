import DevhostProxy

extension EdgeRegistry {
    /// The project on `connection` has these faults in force (all of them, each time): they apply
    /// to its own services only, under the names its routes have on the edge (`key/service`).
    public func faults(_ connection: Connection, _ faults: [EdgeFault]) {
        let now = FaultTable.now
        let known: Bool = state.withLockedValue { state in
            guard var entry = state.entries[connection] else { return false }
            let key = entry.key
            entry.faults = faults.prefix(Self.maxFaults).map { $0.rule(service: key + "/" + $0.service, now: now) }
            state.entries[connection] = entry
            return true
        }
        if known { publishFaults() }
    }

    /// Faults on standalone routes, each named by its route's host (`devhost proxy --fault`).
    public func setStandaloneFaults(_ inputs: [FaultInput]) {
        let now = FaultTable.now
        state.withLockedValue { state in
            state.standaloneFaults = inputs.enumerated().map { $0.element.rule(id: "s\($0.offset + 1)", now: now) }
        }
        publishFaults()
    }

    /// Puts every registered project's faults in force, and the standalone routes' (after a change,
    /// or a project's departure).
    func publishFaults() {
        let all = state.withLockedValue { state in state.standaloneFaults + state.entries.values.flatMap(\.faults) }
        instances.faults.replace(with: all)
    }

    /// No project needs more; one that sends more is cut short.
    static let maxFaults = 256
}
