import DevhostManifest

/// Turns devhost strings (commands, env values, exec checks) into strings for a container definition.
///
/// Both targets treat `$` specially and take `$$` for a literal one: compose interpolates `$NAME` and
/// `${NAME}` when it reads the file, Kubernetes expands `$(NAME)` in a container's command, args, env
/// values and exec probes. So every `$` that devhost means literally, or that the container's shell
/// should expand, is written `$$`; only how a `${VAR…}` variable is written differs per target.
enum ContainerText {
    /// How a `${VAR…}` variable is written.
    enum Variables {
        /// `${VAR:-x}` as it stands, for compose to interpolate from the shell and `.env`.
        case compose
        /// `$${VAR:-x}`: left for the container's `/bin/sh -c` to expand, as devhost's own shell would.
        case shell
    }

    static func dollars(_ text: String) -> String {
        text.replacingOccurrences(of: "$", with: "$$")
    }

    /// Writes segments back as text; references are resolved by `reference`.
    static func text(
        _ segments: [Interpolation.Segment], variables: Variables,
        reference: (Interpolation.ServiceReference) -> String
    ) -> String {
        text(segments, reference: reference) { name, fallback in
            var output = variables == .shell ? "$${" : "${"
            output += name
            switch fallback {
            case nil: break
            case .ifUnset(let inner)?: output += "-" + text(inner, variables: variables, reference: reference)
            case .ifUnsetOrEmpty(let inner)?: output += ":-" + text(inner, variables: variables, reference: reference)
            case .required(let message)?: output += ":?" + dollars(message)
            }
            return output + "}"
        }
    }

    /// Writes segments back as text with `$` escaped; `variable` writes each `${VAR…}` (already escaped).
    static func text(
        _ segments: [Interpolation.Segment], reference: (Interpolation.ServiceReference) -> String,
        variable: (String, Interpolation.Fallback?) -> String
    ) -> String {
        var output = ""
        for segment in segments {
            switch segment {
            case .literal(let text): output += dollars(text)
            case .reference(let ref): output += dollars(reference(ref))
            case .variable(let name, let fallback): output += variable(name, fallback)
            }
        }
        return output
    }

    /// A service's command as a container argv. Shell strings keep their variables for the container's
    /// shell; argv words get `PORT`/`HOST` substituted, since an exec-form command has no shell to expand them.
    static func command(_ command: Command, port: Int?, reference: (Interpolation.ServiceReference) -> String) throws -> [String] {
        switch command {
        case .shell(let text):
            return ["/bin/sh", "-c", ContainerText.text(try Interpolation.parse(text), variables: .shell, reference: reference)]
        case .argv(let words):
            return try words.map { word in
                let segments = try Interpolation.parse(word).map { segment -> Interpolation.Segment in
                    if case .variable("PORT", _) = segment, let port { return .literal(String(port)) }
                    if case .variable("HOST", _) = segment { return .literal("0.0.0.0") }
                    return segment
                }
                return ContainerText.text(segments, variables: .shell, reference: reference)
            }
        }
    }

    /// An exec health check's command line for the container's shell.
    static func shellLine(_ command: String, reference: (Interpolation.ServiceReference) -> String) throws -> String {
        text(try Interpolation.parse(command), variables: .shell, reference: reference)
    }

    /// The project's env, then the service's, a service key replacing the project's (file order kept).
    static func mergedEnv(_ project: [EnvEntry], _ service: [EnvEntry]) -> [EnvEntry] {
        var result = project.filter { entry in !service.contains { $0.key == entry.key } }
        result += service
        return result
    }

    /// Container ports: an `auto` port is the fixed container port 8000 (each container has its own
    /// network namespace, so they never collide), a fixed port stays what it is.
    static let autoContainerPort = 8000

    static func containerPort(of service: Service) -> Int? {
        switch service.port {
        case .none: return nil
        case .auto: return autoContainerPort
        case .fixed(let port): return port
        }
    }
}
