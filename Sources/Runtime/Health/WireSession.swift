import DevhostManifest
import NIOCore
import NIOPosix

/// What a wire-protocol probe found, and in words why (shown as the instance's health detail).
struct ProbeOutcome: Sendable, Equatable {
    var healthy: Bool
    var detail: String

    static func healthy(_ detail: String) -> ProbeOutcome { ProbeOutcome(healthy: true, detail: detail) }
    static func unhealthy(_ detail: String) -> ProbeOutcome { ProbeOutcome(healthy: false, detail: detail) }
}

/// Why a conversation could not go on: the peer hung up, or sent something the protocol does not allow.
enum WireError: Error, Equatable, CustomStringConvertible {
    case closed(received: Int)
    case garbage(String)

    var description: String {
        switch self {
        case .closed(0): return "closed the connection without a word"
        case .closed(let count): return "closed the connection after \(count) bytes"
        case .garbage(let what): return what
        }
    }
}

/// One probe's TCP conversation: send bytes, then read until a framing function finds a whole message.
/// Nothing here waits on its own; the caller bounds the whole conversation with the check's timeout.
struct WireSession {
    /// No handshake a probe reads comes near this; a peer that keeps sending is not the server we expect.
    static let limit = 65536

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()
    private(set) var received = 0

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    mutating func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Reads until `frame` returns a message. `frame` sees what arrived so far, returns nil when it
    /// needs more, and moves the reader index past what it used; it throws `WireError.garbage` for bytes
    /// the protocol cannot start with.
    mutating func receive<T>(_ frame: (inout ByteBuffer) throws -> T?) async throws -> T {
        while true {
            var view = buffer
            if let message = try frame(&view) {
                buffer = view
                return message
            }
            guard buffer.readableBytes < Self.limit else {
                throw WireError.garbage("sent \(buffer.readableBytes) bytes without a complete message")
            }
            guard var chunk = try await inbound.next() else { throw WireError.closed(received: received) }
            received += chunk.readableBytes
            buffer.writeBuffer(&chunk)
        }
    }
}

extension HealthProbe {
    /// Connects to the port, runs `body` and closes, all within `timeout`; a refused connection, a
    /// silent peer, a hang-up or garbage each become an unhealthy outcome naming what happened.
    func converse(
        _ protocolName: String, port: Int, timeout: Duration,
        _ body: @escaping @Sendable (inout WireSession) async throws -> ProbeOutcome
    ) async -> ProbeOutcome {
        do {
            return try await withTimeout(timeout) {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.milliseconds(DurationText.milliseconds(timeout)))
                    .connect(host: "127.0.0.1", port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    var session = WireSession(inbound: inbound, outbound: outbound)
                    return try await body(&session)
                }
            }
        } catch let error as WireError {
            return .unhealthy("\(protocolName) on :\(port): \(error)")
        } catch is TimedOut {
            return .unhealthy("\(protocolName) on :\(port): no answer within \(DurationText.format(timeout))")
        } catch {
            return .unhealthy("\(protocolName) on :\(port): \(Self.describe(error))")
        }
    }
}

/// Big-endian and little-endian integers out of a `ByteBuffer`, for the framing functions.
extension ByteBuffer {
    func peekInteger<T: FixedWidthInteger>(at offset: Int, endianness: Endianness = .big, as: T.Type = T.self) -> T? {
        getInteger(at: readerIndex + offset, endianness: endianness, as: T.self)
    }

    /// A NUL-terminated string starting at the reader index, or nil when no NUL arrived yet.
    mutating func readCString() -> String? {
        guard let end = readableBytesView.firstIndex(of: 0) else { return nil }
        let text = readString(length: end - readableBytesView.startIndex)
        moveReaderIndex(forwardBy: 1)
        return text
    }
}
