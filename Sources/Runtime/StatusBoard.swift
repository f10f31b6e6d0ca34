import NIOConcurrencyHelpers

/// The latest state of every instance, readable from any thread (the proxy's 503 page reads it on
/// an event loop without waiting for the supervisor actor).
public final class StatusBoard: Sendable {
    /// Guards each service's instances and their state text: the supervisor writes, event loops read.
    private let states = NIOLockedValueBox<[String: [String: String]]>([:])

    public init() {}

    func set(service: String, instance: String, state: String) {
        states.withLockedValue { $0[service, default: [:]][instance] = state }
    }

    func remove(service: String, instance: String? = nil) {
        states.withLockedValue { states in
            if let instance { states[service]?[instance] = nil } else { states[service] = nil }
        }
    }

    /// `api.1 starting, api.2 restarting in 1s`
    public func summary(of service: String) -> String {
        states.withLockedValue { states in
            guard let instances = states[service], !instances.isEmpty else { return "not started" }
            return instances.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }
}
