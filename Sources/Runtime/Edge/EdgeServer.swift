import DevhostManifest
import DevhostProxy
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Splits a byte stream into lines (without the newline); a line longer than the limit is an error.
final class LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let limit: Int

    init(limit: Int = EdgeProtocol.maxLine) {
        self.limit = limit
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > limit { throw EdgeError.invalid("a line over \(limit) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

/// The socket projects register on: private to the user (0600 in a 0700 folder), JSON lines.
public final class EdgeServer: Sendable {
    public let path: String
    private let channel: Channel
    private let connections: NIOLockedValueBox<[EdgeRegistry.Connection: Channel]>

    /// What the edge answers besides the registry.
    public struct Hooks: Sendable {
        public var status: @Sendable () -> EdgeStatus
        public var version: String
        public var port: Int
        /// The HTTPS listener's port; nil: none.
        public var httpsPort: Int? = nil
        /// Where the edge's own proxy is reached, for replays (`port` on this address).
        public var replayHost = "127.0.0.1"
    }

    public static func start(path: String, registry: EdgeRegistry, hooks: Hooks, group: EventLoopGroup) async throws -> EdgeServer {
        let connections = NIOLockedValueBox<[EdgeRegistry.Connection: Channel]>([:])
        let counter = NIOLockedValueBox(0)
        let previous = umask(0o177)
        defer { umask(previous) }
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                let id = counter.withLockedValue { value -> Int in
                    value += 1
                    return value
                }
                connections.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    connections.withLockedValue { $0[id] = nil }
                    registry.remove(id)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(EdgeConnectionHandler(id: id, registry: registry, hooks: hooks))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, 0o600)
        return EdgeServer(path: path, channel: channel, connections: connections)
    }

    private init(path: String, channel: Channel, connections: NIOLockedValueBox<[EdgeRegistry.Connection: Channel]>) {
        self.path = path
        self.channel = channel
        self.connections = connections
    }

    /// Tells every connected project why the edge goes (so it does not start another), then closes.
    public func close(saying message: String?) async {
        try? await channel.close()
        let open = connections.withLockedValue { Array($0.values) }
        for connection in open {
            if let message {
                var bye = EdgeMessage(.bye)
                bye.message = message
                try? await connection.writeAndFlush(ByteBuffer(bytes: bye.encoded())).get()
            }
            try? await connection.close()
        }
        unlink(path)
    }
}

/// One project's (or one CLI call's) connection: a hello first, then registrations and updates.
final class EdgeConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let id: EdgeRegistry.Connection
    private let registry: EdgeRegistry
    private let hooks: EdgeServer.Hooks
    private var greeted = false

    init(id: EdgeRegistry.Connection, registry: EdgeRegistry, hooks: EdgeServer.Hooks) {
        self.id = id
        self.registry = registry
        self.hooks = hooks
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard let message = try? EdgeMessage.decode(line.readableBytesView) else {
            return fail(context, "not a message of the edge protocol")
        }
        guard greeted else {
            guard message.type == .hello else { return fail(context, "the first message must be hello") }
            guard message.protocol == EdgeProtocol.version else {
                var refusal = EdgeMessage.error("this edge speaks protocol \(EdgeProtocol.version), not \(message.protocol ?? 0)")
                refusal.protocol = EdgeProtocol.version
                refusal.version = hooks.version
                refusal.pid = getpid()
                return fail(context, refusal)
            }
            greeted = true
            var welcome = EdgeMessage(.welcome)
            welcome.protocol = EdgeProtocol.version
            welcome.version = hooks.version
            welcome.pid = getpid()
            welcome.port = hooks.port
            welcome.httpsPort = hooks.httpsPort
            welcome.features = EdgeProtocol.features
            return send(context, welcome)
        }
        switch message.type {
        case .register, .routes:
            guard let project = message.project else { return fail(context, "\(message.type.rawValue) without project") }
            send(context, registry.register(id, project))
        case .endpoint:
            guard let service = message.service, let instance = message.instance else { return fail(context, "endpoint without service") }
            let endpoint = message.port.map { RouteTable.Endpoint(instance: instance, port: $0, host: message.host ?? "127.0.0.1") }
            if let endpoint, !(1...65535).contains(endpoint.port) { return fail(context, "endpoint port \(endpoint.port)") }
            registry.endpoint(id, service: service, instance: instance, endpoint: endpoint)
        case .faults:
            registry.faults(id, message.faults ?? [])
        case .requests:
            guard let query = message.query, let request = message.id else { return fail(context, "requests without query or id") }
            // Answered when ready, matched by its id: a replay takes as long as the upstream does,
            // and the project's other messages are not held up meanwhile.
            let (registry, id, channel, hooks) = (self.registry, self.id, context.channel, self.hooks)
            Task {
                var reply = EdgeMessage(.requests)
                reply.id = request
                let replay = ReplayTarget(
                    host: hooks.replayHost, port: hooks.port, httpsPort: hooks.httpsPort,
                    ca: LocalCAFiles(environment: ProcessInfo.processInfo.environment))
                reply.answer = await registry.requests(id, query, replay: replay)
                var line = reply.encoded()
                if line.count > EdgeProtocol.maxAnswerLine {
                    reply.answer = .error(507, "the answer is over \(EdgeProtocol.maxAnswerLine >> 20) MiB: ask for fewer (limit)")
                    line = reply.encoded()
                }
                channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
            }
        case .describe:
            guard let service = message.service else { return fail(context, "describe without service") }
            registry.describe(id, service: service, state: message.state ?? "", lines: message.lines ?? [])
        case .drain:
            guard let service = message.service, let instance = message.instance, let request = message.id else {
                return fail(context, "drain without service, instance or id")
            }
            let limit = Duration.milliseconds(min(max(message.timeoutMs ?? 0, 0), 600_000))
            let (registry, id, channel) = (self.registry, self.id, context.channel)
            Task {
                await registry.drain(id, service: service, instance: instance, upTo: limit)
                var drained = EdgeMessage(.drained)
                drained.id = request
                channel.writeAndFlush(ByteBuffer(bytes: drained.encoded()), promise: nil)
            }
        case .withdraw:
            registry.remove(id)
            send(context, EdgeMessage(.withdrawn))
        case .status:
            var answer = EdgeMessage(.status)
            answer.status = hooks.status()
            send(context, answer)
        default:
            fail(context, "unexpected \(message.type.rawValue)")
        }
    }

    private func send(_ context: ChannelHandlerContext, _ message: EdgeMessage) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: message.encoded())), promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ text: String) {
        fail(context, .error(text))
    }

    private func fail(_ context: ChannelHandlerContext, _ message: EdgeMessage) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: message.encoded()))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, "\(error)")
    }
}

@available(*, unavailable)
extension EdgeConnectionHandler: Sendable {}
