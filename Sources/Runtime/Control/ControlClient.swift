import Foundation

/// Talks to a running devhost over its control socket: plain blocking HTTP/1.0, one request per
/// connection, which is all a CLI call needs (and starts faster than an event loop).
public struct ControlClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The `error` field of a JSON error body, else the body.
        public var message: String {
            if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
                if let error = object["error"] as? String { return error }
                if let message = object["message"] as? String { return message }
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case notRunning(String)
        case io(String)

        public var description: String {
            switch self {
            case .notRunning(let path):
                return "devhost is not running here (no control socket at \(path); start it with `devhost up` or `devhost up -d`)"
            case .io(let text): return "control socket: \(text)"
            }
        }
    }

    public let path: String

    public init(path: String) {
        self.path = path
    }

    public init(state: ProjectState) {
        self.path = state.controlSocket
    }

    public func get(_ target: String) throws(Failure) -> Response {
        try request("GET", target)
    }

    public func post(_ target: String) throws(Failure) -> Response {
        try request("POST", target)
    }

    public func request(_ method: String, _ target: String, body requestBody: [UInt8] = []) throws(Failure) -> Response {
        var data = Data()
        let status = try exchange(method, target, requestBody: requestBody) { chunk in
            data.append(contentsOf: chunk)
            return true
        }
        return Response(status: status, body: data)
    }

    /// Streams the body to `onLine` line by line until the server ends it or `onLine` returns false.
    /// Returns the status.
    @discardableResult
    public func lines(_ target: String, onLine: (Substring) -> Bool) throws(Failure) -> Int {
        var pending = [UInt8]()
        var wantMore = true
        let status = try exchange("GET", target) { chunk in
            pending += chunk
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if !onLine(Substring(line)) {
                    wantMore = false
                    return false
                }
            }
            return true
        }
        if wantMore, !pending.isEmpty { _ = onLine(Substring(String(decoding: pending, as: UTF8.self))) }
        return status
    }

    private func exchange(_ method: String, _ target: String, requestBody: [UInt8] = [], body: ([UInt8]) -> Bool) throws(Failure) -> Int {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .io("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            if errno == ENOENT || errno == ECONNREFUSED { throw .notRunning(path) }
            throw .io("\(path): \(String(cString: strerror(errno)))")
        }
        let request =
            "\(method) \(target) HTTP/1.0\r\nHost: devhost\r\nX-Devhost-Request: 1\r\nContent-Length: \(requestBody.count)\r\n\r\n"
        writeAll(fd, Array(request.utf8) + requestBody)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var head = [UInt8]()
        var status = 0
        var inBody = false
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            if inBody {
                if !body(Array(buffer[..<count])) { break }
                continue
            }
            head += buffer[..<count]
            guard let end = head.firstRange(of: [13, 10, 13, 10]) else { continue }
            let statusLine = String(decoding: head[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n").first ?? ""
            let fields = statusLine.split(separator: " ")
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            inBody = true
            let rest = Array(head[end.upperBound...])
            if !rest.isEmpty, !body(rest) { break }
        }
        guard inBody else { throw .io("devhost closed the connection without an answer") }
        return status
    }
}
