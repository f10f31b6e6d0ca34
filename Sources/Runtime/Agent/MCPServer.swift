import DevhostManifest
import Foundation
import NIOConcurrencyHelpers

/// A Model Context Protocol server over stdio: JSON-RPC 2.0, one message per line (the stdio
/// transport of the 2025-11-25 revision, reached through the `initialize` handshake). Requests are
/// answered concurrently, so a long `restart` does not hold up a `status`; every write is one line
/// under a lock. Nothing but protocol messages goes to `output`.
public final class MCPServer: Sendable {
    /// Newest first; a client asking for another gets the newest, as the lifecycle section says.
    public static let protocolVersions = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]

    let name: String
    let version: String
    let instructions: String
    let tools: [MCPTool]
    /// Tools that exist but are withheld (`--read-only`): calling one says why instead of "unknown".
    let withheld: [String: String]
    let resources: MCPResources
    let output: Int32
    private let writeLock = NIOLock()
    private let subscriptions = NIOLockedValueBox<[String: String]>([:])
    private let watcher = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(
        name: String, version: String, instructions: String, tools: [MCPTool], withheld: [String: String] = [:],
        resources: MCPResources, output: Int32 = STDOUT_FILENO
    ) {
        self.name = name
        self.version = version
        self.instructions = instructions
        self.tools = tools
        self.withheld = withheld
        self.resources = resources
        self.output = output
    }

    /// Serves until `input` ends (the client closed our stdin), then lets answers in flight finish.
    public func run(input: Int32 = STDIN_FILENO) async {
        let lines = Self.lines(of: input)
        await withTaskGroup(of: Void.self) { group in
            for await line in lines where !line.allSatisfy(\.isWhitespace) {
                group.addTask { await self.receive(line) }
            }
            watcher.withLockedValue { $0?.cancel() }
            await group.waitForAll()
        }
    }

    /// The lines of a blocking descriptor, read on a thread of their own.
    static func lines(of descriptor: Int32) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let thread = Thread {
            var pending = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                pending += buffer[..<count]
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
            continuation.finish()
        }
        thread.name = "mcp-stdin"
        thread.start()
        return stream
    }

    func receive(_ line: String) async {
        guard let message = try? JSONValue.parse(line), message.isObject else {
            return send(
                .object([("jsonrpc", .string("2.0")), ("id", .null), ("error", Self.error(-32700, "parse error: not a JSON object"))]))
        }
        let id = message["id"]
        guard let method = message["method"]?.string else {
            // A response to a request of ours (we send none) or garbage: only requests get an answer.
            if let id, message["result"] == nil, message["error"] == nil {
                send(.object([("jsonrpc", .string("2.0")), ("id", id), ("error", Self.error(-32600, "invalid request: no method"))]))
            }
            return
        }
        let params = message["params"] ?? .object([])
        guard let id else { return notified(method, params) }
        let answer: Result<JSONValue, MCPError>
        do {
            answer = .success(try await handle(method, params))
        } catch {
            answer = .failure(error)
        }
        switch answer {
        case .success(let result): send(.object([("jsonrpc", .string("2.0")), ("id", id), ("result", result)]))
        case .failure(let error):
            send(.object([("jsonrpc", .string("2.0")), ("id", id), ("error", Self.error(error.code, error.message))]))
        }
    }

    func handle(_ method: String, _ params: JSONValue) async throws(MCPError) -> JSONValue {
        switch method {
        case "initialize":
            let asked = params["protocolVersion"]?.string ?? ""
            let agreed = Self.protocolVersions.contains(asked) ? asked : Self.protocolVersions[0]
            return .object([
                ("protocolVersion", .string(agreed)),
                (
                    "capabilities",
                    .object([
                        ("tools", .object([("listChanged", .bool(false))])),
                        ("resources", .object([("subscribe", .bool(true)), ("listChanged", .bool(false))])),
                    ])
                ),
                ("serverInfo", .object([("name", .string(name)), ("version", .string(version))])),
                ("instructions", .string(instructions)),
            ])
        case "ping": return .object([])
        case "tools/list": return .object([("tools", .array(tools.map(\.listing)))])
        case "tools/call":
            guard let name = params["name"]?.string else { throw MCPError(code: -32602, message: "tools/call needs a tool name") }
            let arguments = params["arguments"] ?? .object([])
            guard let tool = tools.first(where: { $0.name == name }) else {
                if let reason = withheld[name] { return MCPToolResult.failure(reason).json }
                throw MCPError(code: -32602, message: "unknown tool: \(name) (tools: \(tools.map(\.name).joined(separator: ", ")))")
            }
            guard arguments.isObject else { return MCPToolResult.failure("\(name): arguments must be an object").json }
            return await tool.run(arguments).json
        case "resources/list": return .object([("resources", .array(resources.list().map(\.listing)))])
        case "resources/templates/list": return .object([("resourceTemplates", .array(resources.templates))])
        case "resources/read":
            let uri = try Self.uri(params)
            return .object([("contents", .array([try resources.read(uri)]))])
        case "resources/subscribe":
            let uri = try Self.uri(params)
            _ = try resources.read(uri)
            subscriptions.withLockedValue { $0[uri] = resources.fingerprint(uri) }
            startWatching()
            return .object([])
        case "resources/unsubscribe":
            let uri = try Self.uri(params)
            subscriptions.withLockedValue { $0[uri] = nil }
            return .object([])
        default:
            throw MCPError(code: -32601, message: "method not found: \(method)")
        }
    }

    /// Notifications need no answer: `initialized` and `cancelled` change nothing here (a restart
    /// in progress finishes, as it does when `devhost restart` is interrupted).
    func notified(_ method: String, _ params: JSONValue) {}

    static func uri(_ params: JSONValue) throws(MCPError) -> String {
        guard let uri = params["uri"]?.string else { throw MCPError(code: -32602, message: "a uri is needed") }
        return uri
    }

    /// Polls what subscribed resources are made of (a log file's size and time, the manifest's) and
    /// says `notifications/resources/updated` when it changes. A stat every 250 ms per subscription
    /// costs next to nothing and works whether devhost runs or not.
    private func startWatching() {
        watcher.withLockedValue { task in
            guard task == nil else { return }
            task = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let current = subscriptions.withLockedValue { $0 }
                    for (uri, before) in current {
                        let now = resources.fingerprint(uri)
                        guard now != before else { continue }
                        let stillSubscribed = subscriptions.withLockedValue { table in
                            guard table[uri] != nil else { return false }
                            table[uri] = now
                            return true
                        }
                        if stillSubscribed {
                            send(
                                .object([
                                    ("jsonrpc", .string("2.0")), ("method", .string("notifications/resources/updated")),
                                    ("params", .object([("uri", .string(uri))])),
                                ]))
                        }
                    }
                }
            }
        }
    }

    static func error(_ code: Int, _ message: String) -> JSONValue {
        .object([("code", .int(code)), ("message", .string(message))])
    }

    func send(_ message: JSONValue) {
        // The serializer escapes every control character, so a message is always exactly one line.
        let bytes = Array((message.serialized() + "\n").utf8)
        writeLock.withLock {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// A JSON-RPC error: the request itself was wrong (unknown method, tool or resource).
public struct MCPError: Error, Sendable {
    public var code: Int
    public var message: String
}
