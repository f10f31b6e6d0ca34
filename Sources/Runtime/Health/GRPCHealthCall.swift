import NIOCore
import NIOHPACK

/// The server's side of one health-check call, frame by frame: what to answer (settings and ping
/// acknowledgements), when the call is over and what it found. Pure: the frames come in, actions go
/// out, so it is tested with frames made in the test. Only stream 1 (the call) is read.
struct GRPCHealthCall {
    enum Action: Equatable {
        case wait
        case send([UInt8])
        case done(ProbeOutcome)
    }

    typealias Frame = GRPCHealthProbe.Frame

    let service: String
    private var sawSettings = false
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    /// A header block still waiting for its CONTINUATION frames, and whether its HEADERS ended the stream.
    private var partial: (block: ByteBuffer, endStream: Bool)?
    private var head: HPACKHeaders?
    private var body = ByteBuffer()

    init(service: String) {
        self.service = service
    }

    private var call: String { service.isEmpty ? "Health/Check" : "Health/Check(\(service))" }

    mutating func receive(_ frame: Frame) throws -> Action {
        guard sawSettings else {
            // RFC 9113 §3.4: the server's preface is a SETTINGS frame.
            guard frame.type == Frame.settings, frame.stream == 0, frame.flags & Frame.ack == 0 else {
                throw WireError.garbage("did not start with HTTP/2 SETTINGS (frame type \(frame.type)): not an h2c server")
            }
            sawSettings = true
            return .send(Frame(type: Frame.settings, flags: Frame.ack, stream: 0, payload: ByteBuffer()).bytes)
        }
        if var waiting = partial {
            guard frame.type == Frame.continuation, frame.stream == 1 else {
                throw WireError.garbage("interrupted a header block with frame type \(frame.type)")
            }
            var more = frame.payload
            waiting.block.writeBuffer(&more)
            partial = waiting
            guard frame.flags & Frame.endHeaders != 0 else { return .wait }
            partial = nil
            return try headerBlock(waiting.block, endStream: waiting.endStream)
        }
        switch frame.type {
        case Frame.settings:
            return frame.flags & Frame.ack != 0
                ? .wait : .send(Frame(type: Frame.settings, flags: Frame.ack, stream: 0, payload: ByteBuffer()).bytes)
        case Frame.ping:
            return frame.flags & Frame.ack != 0
                ? .wait : .send(Frame(type: Frame.ping, flags: Frame.ack, stream: 0, payload: frame.payload).bytes)
        case Frame.goAway:
            let last = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self).map { $0 & 0x7FFF_FFFF } ?? 0
            let code = frame.payload.getInteger(at: frame.payload.readerIndex + 4, as: UInt32.self) ?? 0
            // A GOAWAY that covers stream 1 still lets the call finish.
            return last >= 1
                ? .wait : .done(.unhealthy("\(call): the server closed the connection (GOAWAY, error \(code)) before the call"))
        case Frame.reset where frame.stream == 1:
            let code = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self) ?? 0
            return .done(.unhealthy("\(call): the server reset the call (RST_STREAM, error \(code))"))
        case Frame.headers where frame.stream == 1:
            let block = try frame.content()
            let endStream = frame.flags & Frame.endStream != 0
            guard frame.flags & Frame.endHeaders != 0 else {
                partial = (block, endStream)
                return .wait
            }
            return try headerBlock(block, endStream: endStream)
        case Frame.data where frame.stream == 1:
            guard head != nil else { throw WireError.garbage("sent DATA before the response's HEADERS") }
            var content = try frame.content()
            guard body.readableBytes + content.readableBytes <= 4096 else {
                return .done(.unhealthy("\(call): the answer is over 4 KiB, not a HealthCheckResponse"))
            }
            body.writeBuffer(&content)
            return frame.flags & Frame.endStream != 0 ? .done(.unhealthy("\(call): the call ended without grpc-status trailers")) : .wait
        default:
            // Window updates, priority, frames of other streams: nothing the call needs.
            return .wait
        }
    }

    private mutating func headerBlock(_ block: ByteBuffer, endStream: Bool) throws -> Action {
        var block = block
        let fields: HPACKHeaders
        do {
            // Decoded even when not needed: the decoder's table must follow every block (RFC 7541 §2.3.2).
            fields = try decoder.decodeHeaders(from: &block)
        } catch {
            throw WireError.garbage("sent a header block HPACK cannot decode")
        }
        if head == nil {
            head = fields
            let status = fields.first(name: ":status") ?? "none"
            guard status == "200" else { return .done(.unhealthy("\(call) answered HTTP status \(status), not a gRPC response")) }
            // Trailers-only: the head carries grpc-status itself (a server without the health service).
            return endStream ? .done(outcome(trailers: fields)) : .wait
        }
        guard endStream else { throw WireError.garbage("sent a second header block that does not end the call") }
        return .done(outcome(trailers: fields))
    }

    private func outcome(trailers: HPACKHeaders) -> ProbeOutcome {
        guard let text = trailers.first(name: "grpc-status"), let code = Int(text) else {
            return .unhealthy("\(call): the call ended without grpc-status")
        }
        guard code == 0 else {
            let name = code < GRPCHealthProbe.codeNames.count ? " \(GRPCHealthProbe.codeNames[code])" : ""
            let text = Self.percentDecoded(trailers.first(name: "grpc-message") ?? "")
            let message = text.isEmpty ? "" : ": " + text
            return .unhealthy("\(call) answered grpc-status \(code)\(name)\(message)")
        }
        guard let status = GRPCHealthProbe.servingStatus(body) else {
            return .unhealthy("\(call) answered OK without a well-formed HealthCheckResponse")
        }
        let name = status < GRPCHealthProbe.statusNames.count && status >= 0 ? GRPCHealthProbe.statusNames[status] : "status \(status)"
        return status == 1 ? .healthy(service.isEmpty ? name : "\(service) \(name)") : .unhealthy("\(call) answered \(name)")
    }

    /// grpc-message is percent-encoded (gRPC over HTTP/2, "Responses").
    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
