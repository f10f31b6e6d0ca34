import Foundation

/// Builds the environment one service instance is started with.
///
/// Layers, later ones winning: devhost's own environment, the project env file, the project `env`,
/// the service env file, `HOST`, the service `env`, and finally `PORT` and `DEVHOST_*`, which a service
/// cannot override because devhost relies on them for discovery and logs. When devhost's CA exists,
/// the variables that make Node, Python and OpenSSL trust it are added unless the project sets them
/// (`LocalCAFiles.addServiceVariables`).
public struct ServiceEnvironment: Sendable {
    public var inherited: [String: String]
    /// Resolves `${svc.host}` and friends: stable ports are runtime state, so the caller supplies them.
    public var reference: @Sendable (Interpolation.ServiceReference) -> String?

    public init(
        inherited: [String: String],
        reference: @escaping @Sendable (Interpolation.ServiceReference) -> String? = { _ in nil }
    ) {
        self.inherited = inherited
        self.reference = reference
    }

    public struct Instance: Sendable {
        public var index: Int
        public var port: Int?
        public var host: String

        public init(index: Int, port: Int?, host: String = "127.0.0.1") {
            self.index = index
            self.port = port
            self.host = host
        }
    }

    public func environment(for service: Service, in manifest: Manifest, instance: Instance) throws -> [String: String] {
        var env = inherited
        let projectFile = try manifest.envFile.map(loadIfPresent) ?? []
        let serviceFile = try service.envFile.map(loadIfPresent) ?? []
        try apply(projectFile, to: &env, interpolate: false)
        try apply(manifest.env, to: &env, interpolate: true)
        try apply(serviceFile, to: &env, interpolate: false)
        env["HOST"] = instance.host
        let fixed = fixedVariables(for: service, in: manifest, instance: instance)
        env.merge(fixed) { $1 }
        try apply(service.env, to: &env, interpolate: true)
        env.merge(fixed) { $1 }
        if let files = LocalCAFiles(environment: inherited) {
            let projectKeys = Set((projectFile + manifest.env + serviceFile + service.env).map(\.key))
            files.addServiceVariables(to: &env, keeping: projectKeys)
        }
        return env
    }

    /// Renders a command (or setup step) for an instance: each argv word is interpolated with `env`.
    public func render(_ command: Command, env: [String: String]) throws -> [String] {
        let interpolator = Interpolator(variable: { env[$0] }, reference: reference)
        return try command.argv.map { try interpolator.render($0) }
    }

    private func fixedVariables(for service: Service, in manifest: Manifest, instance: Instance) -> [String: String] {
        var fixed = [
            "DEVHOST_PROJECT": manifest.name,
            "DEVHOST_SERVICE": service.name,
            "DEVHOST_INSTANCE": String(instance.index),
        ]
        if let port = instance.port { fixed["PORT"] = String(port) }
        return fixed
    }

    private func apply(_ entries: [EnvEntry], to env: inout [String: String], interpolate: Bool) throws {
        for entry in entries {
            if interpolate {
                let snapshot = env
                env[entry.key] = try Interpolator(variable: { snapshot[$0] }, reference: reference).render(entry.value)
            } else {
                env[entry.key] = entry.value
            }
        }
    }

    private func loadIfPresent(_ path: String) throws -> [EnvEntry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try EnvFile.load(path)
    }
}
