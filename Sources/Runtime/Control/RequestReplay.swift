import DevhostManifest
import DevhostProxy
import Foundation
import NIOCore
import NIOPosix

/// Sends a recorded request again through the proxy, as recorded or edited (method, target,
/// headers, body). The bytes are made here (`bytes`, pure) and go to the proxy's own port like any
/// client's, so the replay is routed, logged and recorded like the original.
public struct RequestReplay: Sendable {
    public var method: String
    public var target: String
    public var headers: [InspectedRequest.Field]
    public var body: [UInt8]
    /// The request id the replay carries (and the inspector lists it under).
    public var requestID: String

    /// Fields the proxy or the length of the new body decide: never copied from the original.
    static let dropped: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-request-id",
    ]

    /// The original with `edits` applied (a JSON object: `method`, `target`, `headers` as
    /// `[[name, value]]`, `body` text or `body_base64`). A header given with the mask as its value
    /// keeps the recorded value (the dashboard shows secrets masked). Throws a message when the
    /// edits cannot be read or the body was only partly kept and no new one is given.
    public init(_ original: InspectedRequest, edits: JSONValue?, requestID: String) throws(ReplayError) {
        method = original.method
        target = original.target
        headers = original.requestHeaders.filter { !Self.dropped.contains($0.name.lowercased()) }
        body = original.requestBody
        self.requestID = requestID
        var bodyEdited = false
        if let edits {
            guard edits.isObject else { throw ReplayError("the edits must be a JSON object") }
            if let value = edits["method"] {
                guard let text = value.string, !text.isEmpty, text.utf8.allSatisfy(Self.isTokenByte) else {
                    throw ReplayError("method must be a token such as GET or POST")
                }
                method = text
            }
            if let value = edits["target"] {
                guard let text = value.string, text.hasPrefix("/") || text == "*", !text.contains(where: { $0 == " " || $0.isNewline })
                else {
                    throw ReplayError("target must be a path starting with / (no spaces)")
                }
                target = text
            }
            if let value = edits["headers"] {
                guard let rows = value.array else { throw ReplayError("headers must be a list of [name, value] pairs") }
                var fields: [InspectedRequest.Field] = []
                for row in rows {
                    guard let pair = row.array, pair.count == 2, let name = pair[0].string, let text = pair[1].string, !name.isEmpty,
                        name.utf8.allSatisfy(Self.isTokenByte), !text.contains(where: { $0 == "\r" || $0 == "\n" })
                    else { throw ReplayError("headers must be a list of [name, value] pairs of a token and a one-line value") }
                    if Self.dropped.contains(name.lowercased()) { continue }
                    let recorded = original.requestHeaders.first { $0.name.lowercased() == name.lowercased() }?.value
                    fields.append(.init(name: name, value: text == Inspector.mask ? recorded ?? text : text))
                }
                headers = fields
            }
            if let value = edits["body"] {
                guard let text = value.string else { throw ReplayError("body must be a string (or use body_base64)") }
                body = Array(text.utf8)
                bodyEdited = true
            } else if let value = edits["body_base64"] {
                guard let text = value.string, let data = Data(base64Encoded: text) else { throw ReplayError("body_base64 is not base64") }
                body = Array(data)
                bodyEdited = true
            }
        }
        if original.requestBodyTruncated, !bodyEdited {
            throw ReplayError(
                "only the first \(original.requestBody.count) of the body's \(original.requestBodySize) bytes were kept: give the body to send (body or body_base64)"
            )
        }
        if !headers.contains(where: { $0.name.lowercased() == "host" }) { headers.insert(.init(name: "Host", value: original.host), at: 0) }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// The request as it goes on the wire: one request on a connection of its own.
    public var bytes: [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for field in headers { text += "\(field.name): \(field.value)\r\n" }
        let sendsLength = !body.isEmpty || !["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"].contains(method.uppercased())
        if sendsLength { text += "Content-Length: \(body.count)\r\n" }
        text += "X-Request-ID: \(requestID)\r\nConnection: close\r\n\r\n"
        return Array(text.utf8) + body
    }

    /// What the proxy answered: the status and the response's first bytes.
    public struct Answer: Sendable {
        public var status: Int
        public var head: String
    }

    /// The name the request is for (its Host field without a port): what TLS sends as SNI.
    public var serverName: String {
        let host = headers.first { $0.name.lowercased() == "host" }?.value ?? ""
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") { return String(host[host.index(after: host.startIndex)..<end]) }
        return String(host.split(separator: ":", maxSplits: 1).first ?? "")
    }

    /// Sends the request to the proxy at `host:port` (over `tls` when given: an exchange that came
    /// over TLS goes to the HTTPS listener the same way) and reads the answer's head (the body is
    /// read and dropped: the inspector keeps it). Ends within `timeout`.
    public func send(
        host: String, port: Int, tls: TLSClient? = nil, timeout: TimeAmount = .seconds(30),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    )
        async throws(ReplayError) -> Answer
    {
        let collected = group.next().makePromise(of: ByteBuffer.self)
        let request = bytes
        let serverName = serverName
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(3))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try tls?.add(to: channel, serverName: serverName)
                        try channel.pipeline.syncOperations.addHandler(ReplayReader(done: collected))
                    }
                }
                .connect(host: host, port: port).get()
            channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
            let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            let answer = try await collected.futureResult.get()
            deadline.cancel()
            let text = String(decoding: answer.readableBytesView, as: UTF8.self)
            let head = text.components(separatedBy: "\r\n\r\n").first ?? text
            let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            guard status > 0 else { throw ReplayError("the proxy closed the connection without an answer") }
            return Answer(status: status, head: head)
        } catch let error as ReplayError {
            throw error
        } catch {
            throw ReplayError("cannot reach the proxy at \(host):\(port): \(error)")
        }
    }
}

public struct ReplayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Gathers the answer's first 64 KiB until the proxy closes the connection.
private final class ReplayReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let done: EventLoopPromise<ByteBuffer>
    private var received = ByteBuffer()
    /// Said when nothing came (a TLS handshake that failed, say).
    private var failure: Error?

    init(done: EventLoopPromise<ByteBuffer>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received.readableBytes < 64 * 1024 { received.writeBuffer(&buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if received.readableBytes == 0, let failure {
            done.fail(failure)
        } else {
            done.succeed(received)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }
}
