import Foundation
import NIOCore
import NIOPosix

/// One connection to the edge socket: requests answered in order (the edge answers each request
/// before reading the next), and the messages the edge sends on its own or answers when ready,
/// matched by their id (`drained`, `bye`, `requests`).
public final class EdgeConnection: @unchecked Sendable {
    private let channel: Channel
    /// What the edge says without being asked; ends when the connection does.
    public let unsolicited: AsyncStream<EdgeMessage>
    private let lock = NSLock()
    private var pending: [(id: Int, continuation: CheckedContinuation<EdgeMessage?, Never>)] = []
    private var counter = 0
    private var ended = false

    private init(channel: Channel, unsolicited: AsyncStream<EdgeMessage>) {
        self.channel = channel
        self.unsolicited = unsolicited
    }

    /// nil when nothing listens there (no edge, or one that is not ready).
    public static func open(path: String, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async -> EdgeConnection? {
        let (stream, continuation) = AsyncStream<EdgeMessage>.makeStream()
        let box = Box()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(limit: EdgeProtocol.maxAnswerLine)))
                    try channel.pipeline.syncOperations.addHandler(EdgeReplyHandler(box: box, unsolicited: continuation))
                }
            }
        guard let channel = try? await bootstrap.connect(unixDomainSocketPath: path).get() else {
            continuation.finish()
            return nil
        }
        let connection = EdgeConnection(channel: channel, unsolicited: stream)
        box.connection = connection
        if !channel.isActive { connection.closed() }
        return connection
    }

    final class Box: @unchecked Sendable {
        weak var connection: EdgeConnection?
    }

    public func send(_ message: EdgeMessage) {
        send(encoded: message.encoded())
    }

    /// A message already encoded (`EdgeMessage.encoded`), newline included.
    public func send(encoded line: Data) {
        channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
    }

    /// Sends `message` and waits for the edge's answer; nil if the connection ends or the answer is late.
    public func request(_ message: EdgeMessage, timeout: Duration = .seconds(5)) async -> EdgeMessage? {
        let id: Int? = lock.withLock {
            if ended { return nil }
            counter += 1
            return counter
        }
        guard let id else { return nil }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self?.answer(id: id, with: nil) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let accepted = lock.withLock { () -> Bool in
                if ended { return false }
                pending.append((id, continuation))
                return true
            }
            if accepted {
                send(message)
            } else {
                continuation.resume(returning: nil)
            }
        }
    }

    private func answer(id: Int, with message: EdgeMessage?) {
        let waiter: CheckedContinuation<EdgeMessage?, Never>? = lock.withLock {
            guard let index = pending.firstIndex(where: { $0.id == id }) else { return nil }
            return pending.remove(at: index).continuation
        }
        waiter?.resume(returning: message)
    }

    /// A reply to the oldest request; false when none waits (the message was not a reply).
    fileprivate func reply(_ message: EdgeMessage) -> Bool {
        let waiter: CheckedContinuation<EdgeMessage?, Never>? = lock.withLock { pending.isEmpty ? nil : pending.removeFirst().continuation }
        waiter?.resume(returning: message)
        return waiter != nil
    }

    fileprivate func closed() {
        let waiters: [CheckedContinuation<EdgeMessage?, Never>] = lock.withLock {
            ended = true
            defer { pending = [] }
            return pending.map(\.continuation)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    public func close() {
        channel.close(promise: nil)
    }
}

private final class EdgeReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let box: EdgeConnection.Box
    private let unsolicited: AsyncStream<EdgeMessage>.Continuation

    init(box: EdgeConnection.Box, unsolicited: AsyncStream<EdgeMessage>.Continuation) {
        self.box = box
        self.unsolicited = unsolicited
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let message = try? EdgeMessage.decode(unwrapInboundIn(data).readableBytesView) else {
            context.close(promise: nil)
            return
        }
        switch message.type {
        case .drained, .bye, .requests:
            unsolicited.yield(message)
        default:
            if box.connection?.reply(message) != true { unsolicited.yield(message) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        box.connection?.closed()
        unsolicited.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension EdgeReplyHandler: Sendable {}
