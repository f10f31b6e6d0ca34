import DevhostManifest

/// A probe's secrets as written in the manifest (`redis: { password: ${REDIS_PASSWORD} }`) made
/// concrete for one instance: `${…}` is rendered from the instance's environment (devhost's own, the
/// env files, the project's and the service's `env`), as in `command` and `env`, so the password
/// itself can stay out of devhost.yml.
enum ProbeSecrets {
    /// Whether the probe reads variables (only then does the health loop build the environment).
    static func readVariables(_ probe: HealthCheck.Probe) -> Bool {
        if case .redis(_, let password?) = probe { return password.contains("$") }
        return false
    }

    /// The probe to run, or why it cannot run (a required variable unset, a password that came out empty).
    static func resolve(
        _ probe: HealthCheck.Probe, environment: [String: String],
        reference: @escaping @Sendable (Interpolation.ServiceReference) -> String? = { _ in nil }
    ) -> Result<HealthCheck.Probe, ProbeFailure> {
        guard case .redis(let user, let password?) = probe, password.contains("$") else { return .success(probe) }
        let interpolator = Interpolator(variable: { environment[$0] }, reference: reference)
        do {
            let rendered = try interpolator.render(password)
            if rendered.isEmpty {
                return .failure(ProbeFailure(message: "health.redis.password \(password) is empty: set the variable it reads"))
            }
            return .success(.redis(user: user, password: rendered))
        } catch {
            return .failure(ProbeFailure(message: "health.redis.password: \(error)"))
        }
    }

    struct ProbeFailure: Error, Equatable {
        var message: String
    }
}
