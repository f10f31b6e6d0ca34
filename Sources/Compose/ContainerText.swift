import DevhostManifest

/// Turns devhost strings into compose strings.
///
/// Compose interpolates `$NAME` and `${NAME}` itself when it reads the file, so a `$` that devhost
/// means literally, or that a container's shell should expand, must be written `$$`.
enum ComposeEscaping {
    static func dollars(_ text: String) -> String {
        text.replacingOccurrences(of: "$", with: "$$")
    }

    /// Writes segments back as text. Variables keep their `${…}` syntax (prefixed `$$` when a container
    /// shell, not compose, should expand them); references are resolved by `reference`.
    static func text(
        _ segments: [Interpolation.Segment], forShell: Bool,
        reference: (Interpolation.ServiceReference) -> String
    ) -> String {
        var output = ""
        for segment in segments {
            switch segment {
            case .literal(let text):
                output += dollars(text)
            case .reference(let ref):
                output += dollars(reference(ref))
            case .variable(let name, let fallback):
                output += forShell ? "$${" : "${"
                output += name
                switch fallback {
                case nil: break
                case .ifUnset(let inner)?: output += "-" + text(inner, forShell: forShell, reference: reference)
                case .ifUnsetOrEmpty(let inner)?: output += ":-" + text(inner, forShell: forShell, reference: reference)
                case .required(let message)?: output += ":?" + dollars(message)
                }
                output += "}"
            }
        }
        return output
    }
}
