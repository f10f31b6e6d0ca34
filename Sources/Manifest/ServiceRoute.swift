/// One entry of a service's `route:`: a host label, and optionally a path prefix under it.
/// `{ host: "@", path: /api, strip_prefix: true }` sends `NAME.localhost/api/…` to the service as
/// `/…`; a route without a path is the catch-all of its host.
public struct ServiceRoute: Sendable, Equatable {
    /// `@` (the project's own host) or a label (`api` → `api.NAME.localhost`).
    public var host: String
    /// A path prefix starting with `/`, without a trailing `/` (except `/` itself); nil: the whole host.
    public var path: String?
    /// The prefix is taken off the request target before it reaches the service.
    public var stripPrefix: Bool
    /// Where the entry stands in the manifest (for errors that compare two routes).
    public var location: SourceLocation?

    public init(host: String, path: String? = nil, stripPrefix: Bool = false, location: SourceLocation? = nil) {
        self.host = host
        self.path = path
        self.stripPrefix = stripPrefix
        self.location = location
    }

    /// The path as a URL suffix: `/api`, or nothing for a host route.
    public var pathSuffix: String { path ?? "" }

    /// Checks a `path:` value: the prefix as the proxy compares it, or why it is not one. A prefix is
    /// compared byte for byte with the request target (nothing is decoded), so only what a request
    /// target can hold and what names one place is accepted.
    public static func normalizedPath(_ text: String) -> Result<String, PathProblem> {
        guard text.hasPrefix("/") else { return .failure(.notAbsolute) }
        if let bad = text.unicodeScalars.first(where: { $0 == "?" || $0 == "#" }) { return .failure(.queryOrFragment(Character(bad))) }
        if text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) { return .failure(.notVisibleASCII) }
        var path = text
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if path != "/", segments.contains(where: \.isEmpty) { return .failure(.emptySegment) }
        if segments.contains(where: { $0 == ".." || $0 == "." }) { return .failure(.dotSegment) }
        return .success(path)
    }

    public enum PathProblem: Error, Equatable, CustomStringConvertible {
        case notAbsolute
        case queryOrFragment(Character)
        case notVisibleASCII, emptySegment, dotSegment

        public var description: String {
            switch self {
            case .notAbsolute: return "must start with /"
            case .queryOrFragment(let c): return "must not contain \"\(c)\" (a prefix matches the path; the query passes through)"
            case .notVisibleASCII:
                return "must be visible ASCII (spaces and other bytes arrive percent-encoded, and prefixes are compared as sent)"
            case .emptySegment: return "must not contain an empty segment (//)"
            case .dotSegment: return "must not contain . or .. segments"
            }
        }
    }
}
