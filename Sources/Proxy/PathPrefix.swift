/// A path route under a host: a prefix compared byte for byte with the request target, by whole
/// segments, never decoded (`/api` matches `/api`, `/api/x`, `/api?q`, not `/apix` nor `/api%2Fx`).
struct PathPrefix: Sendable, Equatable {
    /// As written in the manifest (`/api`; `/` for the whole host).
    let path: String
    /// What is compared: the path's bytes, empty for `/` (which then matches every origin-form target).
    let bytes: [UInt8]
    let target: ProxyTarget
    /// Take the prefix off (only a non-empty one: stripping `/` changes nothing).
    let strip: Bool
    /// The request inspector records its exchanges (see `ProxyRoutes.Route.inspected`).
    let inspected: Bool

    init(path: String, target: ProxyTarget, strip: Bool, inspected: Bool = true) {
        self.path = path
        self.bytes = path == "/" ? [] : Array(path.utf8)
        self.target = target
        self.strip = strip && path != "/"
        self.inspected = inspected
    }

    /// The request target (origin form: path and query; empty for an absolute-form target with no
    /// path) begins with the prefix, and the prefix ends at a segment boundary.
    func matches(_ p: UnsafeRawBufferPointer, _ target: Range<Int>) -> Bool {
        let count = bytes.count
        if count == 0 { return target.isEmpty || p[target.lowerBound] == UInt8(ascii: "/") }
        guard target.count >= count else { return false }
        var i = target.lowerBound
        for byte in bytes {
            if p[i] != byte { return false }
            i += 1
        }
        if i == target.upperBound { return true }
        let next = p[i]
        return next == UInt8(ascii: "/") || next == UInt8(ascii: "?") || next == UInt8(ascii: "#")
    }

    /// What follows the prefix in a matching target, and whether the upstream's target needs a `/`
    /// in front of it (the rest is empty or only a query): `/api` → `/`, `/api?x=1` → `/?x=1`,
    /// `/api/x` → `/x`. Everything after the prefix goes on byte for byte.
    func rest(_ p: UnsafeRawBufferPointer, _ target: Range<Int>) -> (slash: Bool, rest: Range<Int>) {
        let start = target.lowerBound + bytes.count
        let rest = start..<target.upperBound
        return (rest.isEmpty || p[start] != UInt8(ascii: "/"), rest)
    }

    /// The upstream's target for a matching `target` (tests and pages; the proxy writes the bytes).
    func stripped(_ target: String) -> String {
        let bytes = Array(target.utf8)
        return bytes.withUnsafeBytes { p in
            let (slash, rest) = self.rest(p, 0..<p.count)
            return (slash ? "/" : "") + String(decoding: bytes[rest], as: UTF8.self)
        }
    }
}

/// What one host routes to: a catch-all and path prefixes, longest first so the first match is
/// the longest. A host without path routes has no prefixes, and its requests no per-request lookup.
final class HostRoutes: Sendable {
    let catchAll: ProxyTarget?
    let prefixes: [PathPrefix]
    /// The request inspector records what goes to the catch-all (or, for a host with paths only,
    /// the requests no path matches).
    let inspected: Bool
    /// No redirect to HTTPS for this host (`ProxyRoutes.Route.keepsHTTP`).
    let keepsHTTP: Bool

    init(catchAll: ProxyTarget?, prefixes: [PathPrefix], inspected: Bool = true, keepsHTTP: Bool = false) {
        self.keepsHTTP = keepsHTTP
        self.catchAll = catchAll
        self.prefixes = prefixes.sorted { $0.bytes.count > $1.bytes.count }
        self.inspected = inspected
    }

    /// The longest prefix matching a request target, if any (the caller falls back to `catchAll`).
    func match(_ p: UnsafeRawBufferPointer, _ target: Range<Int>) -> Int? {
        prefixes.firstIndex { $0.matches(p, target) }
    }

    /// The same as `match`, for a target given as a string (tests, pages).
    func match(target: String) -> PathPrefix? {
        Array(target.utf8).withUnsafeBytes { p in match(p, 0..<p.count).map { prefixes[$0] } }
    }
}
