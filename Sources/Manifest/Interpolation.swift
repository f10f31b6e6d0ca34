/// The `${…}` language of manifest strings.
///
/// - `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` (required)
/// - `${svc.host}`, `${svc.port}`, `${svc.url}`, `${svc.public_url}`, `${svc.public_http_url}`: another
///   service's endpoint (`public_url` is https when HTTPS serves the project, `public_http_url` never)
/// - `$$` is a literal `$`; a bare `$NAME` is left alone so the shell of a string command expands it
public enum Interpolation {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case variable(name: String, fallback: Fallback?)
        case reference(ServiceReference)
    }

    public enum Fallback: Sendable, Equatable {
        /// `:-`: used when the variable is unset or empty.
        case ifUnsetOrEmpty([Segment])
        /// `-`: used only when the variable is unset.
        case ifUnset([Segment])
        /// `:?`: an unset or empty variable is an error with this message.
        case required(String)
    }

    public struct ServiceReference: Sendable, Equatable, Hashable {
        public enum Field: String, Sendable, CaseIterable {
            case host, port, url
            case publicURL = "public_url"
            case publicHTTPURL = "public_http_url"
        }

        public var service: String
        public var field: Field
    }

    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func parse(_ text: String) throws(SyntaxError) -> [Segment] {
        var segments: [Segment] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                literal.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                literal.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                literal.append(character)
                index = next
                continue
            }
            let bodyStart = text.index(after: next)
            guard let close = matchingBrace(in: text, from: bodyStart) else {
                throw SyntaxError(message: "\"${\" is not closed in \"\(text)\" (write $$ for a literal $)")
            }
            if !literal.isEmpty {
                segments.append(.literal(literal))
                literal = ""
            }
            segments.append(try parseBody(String(text[bodyStart..<close])))
            index = text.index(after: close)
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return segments
    }

    /// Every service reference in `text`, including those inside defaults.
    public static func references(in text: String) throws(SyntaxError) -> [ServiceReference] {
        func collect(_ segments: [Segment]) -> [ServiceReference] {
            segments.flatMap { segment -> [ServiceReference] in
                switch segment {
                case .literal: return []
                case .reference(let reference): return [reference]
                case .variable(_, .ifUnsetOrEmpty(let inner)), .variable(_, .ifUnset(let inner)): return collect(inner)
                case .variable: return []
                }
            }
        }
        return collect(try parse(text))
    }

    private static func matchingBrace(in text: String, from start: String.Index) -> String.Index? {
        var depth = 1
        var index = start
        while index < text.endIndex {
            switch text[index] {
            case "{": depth += 1
            case "}":
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
            index = text.index(after: index)
        }
        return nil
    }

    private static func parseBody(_ body: String) throws(SyntaxError) -> Segment {
        let nameEnd = body.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") } ?? body.endIndex
        var name = String(body[..<nameEnd])
        var rest = Substring(body[nameEnd...])
        // `-` is both a name character (service names) and the unset-default operator: `${A-x}` is a default.
        if rest.isEmpty, !name.contains("."), let dash = name.firstIndex(of: "-") {
            rest = Substring(name[dash...])
            name = String(name[..<dash])
        }
        if name.contains(".") {
            guard rest.isEmpty else { throw SyntaxError(message: "\"${\(body)}\": a service reference takes no default") }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty,
                let field = ServiceReference.Field(rawValue: String(parts[1]))
            else {
                let fields = ServiceReference.Field.allCases.map(\.rawValue).joined(separator: ", ")
                throw SyntaxError(message: "\"${\(body)}\" is not a service reference (use ${SERVICE.FIELD} with FIELD one of \(fields))")
            }
            return .reference(ServiceReference(service: String(parts[0]), field: field))
        }
        guard let first = name.first, first.isLetter || first == "_", name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else {
            throw SyntaxError(message: "\"${\(body)}\": \"\(name)\" is not a variable name")
        }
        if rest.isEmpty { return .variable(name: name, fallback: nil) }
        if rest.hasPrefix(":-") { return .variable(name: name, fallback: .ifUnsetOrEmpty(try parse(String(rest.dropFirst(2))))) }
        if rest.hasPrefix(":?") { return .variable(name: name, fallback: .required(String(rest.dropFirst(2)))) }
        if rest.hasPrefix("-") { return .variable(name: name, fallback: .ifUnset(try parse(String(rest.dropFirst(1))))) }
        throw SyntaxError(message: "\"${\(body)}\": expected \"}\", \":-\", \"-\" or \":?\" after \"\(name)\"")
    }
}

/// Renders interpolated strings for one service instance.
public struct Interpolator: Sendable {
    public struct UnsetVariable: Error, Sendable, CustomStringConvertible {
        public var name: String
        public var message: String
        public var description: String { message.isEmpty ? "\(name) is required but not set" : "\(name): \(message)" }
    }

    /// Looks a variable up: instance env first, then project env, env file and the process environment.
    public var variable: @Sendable (String) -> String?
    /// Resolves `${svc.field}`; nil renders the reference as written (validate, before ports are known).
    public var reference: @Sendable (Interpolation.ServiceReference) -> String?

    public init(
        variable: @escaping @Sendable (String) -> String?,
        reference: @escaping @Sendable (Interpolation.ServiceReference) -> String? = { _ in nil }
    ) {
        self.variable = variable
        self.reference = reference
    }

    public func render(_ text: String) throws -> String {
        try render(Interpolation.parse(text))
    }

    public func render(_ segments: [Interpolation.Segment]) throws -> String {
        var output = ""
        for segment in segments {
            switch segment {
            case .literal(let text):
                output += text
            case .reference(let ref):
                output += reference(ref) ?? "${\(ref.service).\(ref.field.rawValue)}"
            case .variable(let name, let fallback):
                let value = variable(name)
                switch fallback {
                case nil:
                    output += value ?? ""
                case .ifUnset(let inner)?:
                    output += try value ?? render(inner)
                case .ifUnsetOrEmpty(let inner)?:
                    output += try (value?.isEmpty == false ? value! : render(inner))
                case .required(let message)?:
                    guard let value, !value.isEmpty else { throw UnsetVariable(name: name, message: message) }
                    output += value
                }
            }
        }
        return output
    }
}
