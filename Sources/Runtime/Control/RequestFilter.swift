import DevhostProxy

/// Which recorded exchanges a list shows: `?service=api&status=5xx&path=/api&text=token` on the
/// control API, `--service`, `--status`, `--path`, `--text` on `devhost requests`. Every given
/// condition must hold.
public struct RequestFilter: Sendable, Equatable {
    /// Service names (or, for other routes, hosts); any of them.
    public var services: [String] = []
    /// `5xx` (a class), `404` (one status), or `0`: no response yet.
    public var status: String?
    /// The target's path starts with this.
    public var path: String?
    /// Case-insensitive, anywhere in the method, host, target, headers or kept bodies.
    public var text: String?

    public init(services: [String] = [], status: String? = nil, path: String? = nil, text: String? = nil) {
        self.services = services
        self.status = status
        self.path = path
        self.text = text
    }

    /// Why a status filter cannot be read, or nil when it can.
    public static func problem(status: String) -> String? {
        let lower = status.lowercased()
        if lower.count == 3, let first = lower.first, ("1"..."5").contains(first), lower.hasSuffix("xx") { return nil }
        if let code = Int(lower), code == 0 || (100...599).contains(code) { return nil }
        return "--status \(status) is neither a class (2xx, 4xx, 5xx) nor a status code"
    }

    public func matches(_ request: InspectedRequest) -> Bool {
        if !services.isEmpty, !services.contains(request.service) { return false }
        if let status = status?.lowercased() {
            if status.hasSuffix("xx") {
                guard request.status > 0, String(request.status / 100) == String(status.prefix(1)) else { return false }
            } else if Int(status) != request.status {
                return false
            }
        }
        if let path, !path.isEmpty, !request.target.hasPrefix(path) { return false }
        if let text, !text.isEmpty, !Self.contains(request, text.lowercased()) { return false }
        return true
    }

    private static func contains(_ request: InspectedRequest, _ needle: String) -> Bool {
        let places = [request.method, request.host, request.target, request.requestID]
        if places.contains(where: { $0.lowercased().contains(needle) }) { return true }
        // Secrets are not searched: a search must not tell what a masked value holds.
        for field in request.requestHeaders + request.responseHeaders + request.responseTrailers
        where !InspectedRequest.isSecret(field.name) {
            if field.name.lowercased().contains(needle) || field.value.lowercased().contains(needle) { return true }
        }
        return String(decoding: request.requestBody, as: UTF8.self).lowercased().contains(needle)
            || String(decoding: request.responseBody, as: UTF8.self).lowercased().contains(needle)
    }
}
