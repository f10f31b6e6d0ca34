import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves the control API over HTTP on a Unix socket that only its owner can open (mode 0600).
/// Nothing listens on TCP: the dashboard reaches it through the proxy's `devhost.<domain>` route.
public final class ControlServer: Sendable {
    public let path: String
    private let channel: Channel
    private let connections: NIOLockedValueBox<[ObjectIdentifier: Channel]>

    public static func start(path: String, api: ControlAPI, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws
        -> ControlServer
    {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if folder == "/tmp/devhost-\(getuid())" {
            // A shared folder: it must be ours, private and not a symlink, or someone else controls the path.
            var info = stat()
            guard lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
                throw ControlServerError.unsafeFolder(folder)
            }
        }
        let connections = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
        let inFlight = NIOLockedValueBox(0)
        // The socket is created with the umask's mode: narrow it for the bind, so there is no moment
        // when others could connect.
        let previous = umask(0o177)
        defer { umask(previous) }
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in connections.withLockedValue { $0[ObjectIdentifier(channel)] = nil } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(api: api, inFlight: inFlight))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, 0o600)
        return ControlServer(path: path, channel: channel, connections: connections, inFlight: inFlight)
    }

    private let inFlight: NIOLockedValueBox<Int>

    private init(
        path: String, channel: Channel, connections: NIOLockedValueBox<[ObjectIdentifier: Channel]>, inFlight: NIOLockedValueBox<Int>
    ) {
        self.path = path
        self.channel = channel
        self.connections = connections
        self.inFlight = inFlight
    }

    /// Stops listening, gives answers in flight (a `down` that waited for the stop) a moment to
    /// leave, then closes every connection and removes the socket.
    public func close() async {
        try? await channel.close()
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline, inFlight.withLockedValue({ $0 > 0 }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for connection in connections.withLockedValue({ Array($0.values) }) { try? await connection.close() }
        unlink(path)
    }
}

/// One control connection: reads a request, asks the API, writes the answer (streamed when it is a
/// stream), one request at a time.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: ControlAPI
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var task: Task<Void, Never>?
    /// A replay's edits carry a body of up to the inspector's kept size, and some headers.
    static let bodyLimit = 8 << 20

    /// Requests being answered across all connections (`close` lets them finish).
    private let inFlight: NIOLockedValueBox<Int>

    init(api: ControlAPI, inFlight: NIOLockedValueBox<Int>) {
        self.api = api
        self.inFlight = inFlight
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var part):
            // Bounded: control bodies are small (a replay's edits); past the limit the rest is dropped.
            if body.count + part.readableBytes <= Self.bodyLimit, let bytes = part.readBytes(length: part.readableBytes) { body += bytes }
        case .end:
            guard let head else { return }
            self.head = nil
            inFlight.withLockedValue { $0 += 1 }
            var request = ControlRequest(
                method: head.method.rawValue, target: head.uri,
                headers: Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first }))
            request.body = body
            body = []
            task = Self.answer(
                request, api: api, inFlight: inFlight, channel: context.channel, version: head.version, keepAlive: head.isKeepAlive)
        }
    }

    /// Asks the API and writes its answer, off the event loop; captures nothing of the handler.
    private static func answer(
        _ request: ControlRequest, api: ControlAPI, inFlight: NIOLockedValueBox<Int>, channel: Channel, version: HTTPVersion,
        keepAlive: Bool
    ) -> Task<Void, Never> {
        Task {
            let response = await api.handle(request)
            if case .stream = response { inFlight.withLockedValue { $0 -= 1 } }
            await write(response, to: channel, version: version, keepAlive: keepAlive, head: request.method == "HEAD")
            if case .full = response { inFlight.withLockedValue { $0 -= 1 } }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    private static func write(_ response: ControlResponse, to channel: Channel, version: HTTPVersion, keepAlive: Bool, head: Bool) async {
        var headers = HTTPHeaders()
        headers.add(name: "cache-control", value: "no-store")
        switch response {
        case .full(let status, let type, let body):
            headers.add(name: "content-type", value: type)
            headers.add(name: "content-length", value: String(body.utf8.count))
            if !keepAlive { headers.add(name: "connection", value: "close") }
            channel.write(
                HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: .init(statusCode: status), headers: headers)),
                promise: nil)
            if !head { channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
            try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
            if !keepAlive { try? await channel.close() }
        case .stream(let type, let stream):
            headers.add(name: "content-type", value: type)
            headers.add(name: "x-accel-buffering", value: "no")
            // Without a length the body ends with the connection (HTTP/1.0) or is chunked (1.1).
            if version.minor == 0 { headers.add(name: "connection", value: "close") }
            do {
                try await channel.writeAndFlush(
                    HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: .ok, headers: headers))
                ).get()
                for await piece in stream where !piece.isEmpty {
                    try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: piece)))).get()
                }
                try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                if version.minor == 0 || !keepAlive { try await channel.close() }
            } catch {
                try? await channel.close()
            }
        }
    }
}

// Confined to its connection's event loop; the answer's task captures the channel, not the handler.
@available(*, unavailable)
extension ControlHandler: Sendable {}

public enum ControlServerError: Error, CustomStringConvertible {
    case unsafeFolder(String)

    public var description: String {
        switch self {
        case .unsafeFolder(let folder):
            return "\(folder) is not a private folder of this user (remove it, or move the project to a shorter path)"
        }
    }
}
