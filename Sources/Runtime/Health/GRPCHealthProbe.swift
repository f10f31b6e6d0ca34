import NIOCore
import NIOHPACK

/// The gRPC health check: one `grpc.health.v1.Health/Check` call over h2c (HTTP/2 with prior
/// knowledge), written against the wire: HTTP/2 frames by hand, header blocks through NIOHPACK, and
/// the two one-field protobuf messages encoded here. Healthy when the answer is SERVING; NOT_SERVING,
/// SERVICE_UNKNOWN, a non-zero `grpc-status` (NOT_FOUND: the server has no health service, or not
/// this name) and anything that is not HTTP/2 are unhealthy, in the server's own words.
enum GRPCHealthProbe {
    static let path = "/grpc.health.v1.Health/Check"

    /// One HTTP/2 frame (RFC 9113 §4.1), padding and priority fields still in the payload.
    struct Frame: Equatable {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: ByteBuffer

        static let data: UInt8 = 0
        static let headers: UInt8 = 1
        static let reset: UInt8 = 3
        static let settings: UInt8 = 4
        static let ping: UInt8 = 6
        static let goAway: UInt8 = 7
        static let continuation: UInt8 = 9

        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
        static let padded: UInt8 = 0x8
        static let priority: UInt8 = 0x20

        var bytes: [UInt8] {
            let length = payload.readableBytes
            return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
                + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
                + payload.readableBytesView
        }

        /// DATA and HEADERS payloads without their padding (and a HEADERS frame's priority fields).
        func content() throws -> ByteBuffer {
            var body = payload
            var pad = 0
            if flags & Self.padded != 0, type == Self.data || type == Self.headers {
                guard let length = body.readInteger(as: UInt8.self) else {
                    throw WireError.garbage("sent a padded frame without a pad length")
                }
                pad = Int(length)
            }
            if type == Self.headers, flags & Self.priority != 0 {
                guard body.readSlice(length: 5) != nil else { throw WireError.garbage("sent a HEADERS frame too short for its priority") }
            }
            guard pad <= body.readableBytes else { throw WireError.garbage("sent more padding than frame") }
            return body.getSlice(at: body.readerIndex, length: body.readableBytes - pad)!
        }
    }

    /// A whole frame, or nil until it has arrived. A server that answers the preface with anything
    /// but a frame header of sane size (an HTTP/1.1 server's "HTTP/1.1 400") is not speaking HTTP/2.
    static func frame(_ buffer: inout ByteBuffer) throws -> Frame? {
        guard buffer.readableBytes >= 9 else {
            if buffer.readableBytesView.starts(with: Array("HTTP/".utf8).prefix(buffer.readableBytes)), buffer.readableBytes >= 5 {
                throw WireError.garbage("answered in HTTP/1, not HTTP/2 with prior knowledge (is the server h2c?)")
            }
            return nil
        }
        if buffer.readableBytesView.starts(with: Array("HTTP/".utf8)) {
            throw WireError.garbage("answered in HTTP/1, not HTTP/2 with prior knowledge (is the server h2c?)")
        }
        let length = Int(buffer.peekInteger(at: 0, as: UInt16.self)!) << 8 | Int(buffer.peekInteger(at: 2, as: UInt8.self)!)
        // SETTINGS_MAX_FRAME_SIZE is not raised by the probe, so nothing larger may come (§4.2).
        guard length <= 16384 else { throw WireError.garbage("sent a \(length)-byte frame, not HTTP/2") }
        guard buffer.readableBytes >= 9 + length else { return nil }
        let type = buffer.peekInteger(at: 3, as: UInt8.self)!
        let flags = buffer.peekInteger(at: 4, as: UInt8.self)!
        let stream = buffer.peekInteger(at: 5, as: UInt32.self)! & 0x7FFF_FFFF
        buffer.moveReaderIndex(forwardBy: 9)
        let payload = buffer.readSlice(length: length)!
        return Frame(type: type, flags: flags, stream: stream, payload: payload)
    }

    /// What the probe sends at once: the preface, its settings (no server push), the call's head and
    /// its one message with END_STREAM.
    static func request(service: String, port: Int) -> [UInt8] {
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        // SETTINGS_ENABLE_PUSH (0x2) = 0.
        bytes += Frame(type: Frame.settings, flags: 0, stream: 0, payload: ByteBuffer(bytes: [0, 2, 0, 0, 0, 0])).bytes
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: false)
        var block = ByteBuffer()
        let headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": "127.0.0.1:\(port)",
            "content-type": "application/grpc", "te": "trailers", "user-agent": "devhost-health/1",
        ]
        try! encoder.encode(headers: headers, to: &block)  // Literal fields in an empty table: cannot fail.
        bytes += Frame(type: Frame.headers, flags: Frame.endHeaders, stream: 1, payload: block).bytes
        bytes += Frame(type: Frame.data, flags: Frame.endStream, stream: 1, payload: ByteBuffer(bytes: message(service: service))).bytes
        return bytes
    }

    /// A HealthCheckRequest in gRPC's framing: not compressed, a 4-byte length, then `service` as field 1
    /// (length-delimited). proto3 leaves an empty string out, so the server-wide check is an empty message.
    static func message(service: String) -> [UInt8] {
        let name = Array(service.utf8)
        var proto: [UInt8] = []
        if !name.isEmpty { proto = [0x0A] + varint(UInt64(name.count)) + name }
        let length = UInt32(proto.count)
        return [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + proto
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            let low = UInt8(value & 0x7F)
            value >>= 7
            bytes.append(value == 0 ? low : low | 0x80)
        } while value != 0
        return bytes
    }

    /// HealthCheckResponse.status, from the response's one gRPC message; other fields are skipped as
    /// protobuf allows. nil when the message is not well formed.
    static func servingStatus(_ grpcMessage: ByteBuffer) -> Int? {
        var buffer = grpcMessage
        guard let compressed = buffer.readInteger(as: UInt8.self), compressed == 0, let length = buffer.readInteger(as: UInt32.self),
            Int(length) == buffer.readableBytes
        else { return nil }
        var status = 0  // proto3: an absent enum field is 0 (UNKNOWN).
        while buffer.readableBytes > 0 {
            guard let key = readVarint(&buffer) else { return nil }
            switch key & 7 {
            case 0:
                guard let value = readVarint(&buffer) else { return nil }
                if key >> 3 == 1 { status = Int(truncatingIfNeeded: value) }
            case 1: guard buffer.readSlice(length: 8) != nil else { return nil }
            case 2:
                guard let length = readVarint(&buffer), length <= buffer.readableBytes, buffer.readSlice(length: Int(length)) != nil
                else { return nil }
            case 5: guard buffer.readSlice(length: 4) != nil else { return nil }
            default: return nil
            }
        }
        return status
    }

    private static func readVarint(_ buffer: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }

    static let statusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]

    /// gRPC status codes by number (grpc/doc/statuscodes.md), for details a person reads.
    static let codeNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    static func conversation(service: String, port: Int) -> @Sendable (inout WireSession) async throws -> ProbeOutcome {
        { session in
            try await session.send(request(service: service, port: port))
            var call = GRPCHealthCall(service: service)
            while true {
                let next = try await session.receive(GRPCHealthProbe.frame)
                switch try call.receive(next) {
                case .wait: continue
                case .send(let reply): try await session.send(reply)
                case .done(let outcome): return outcome
                }
            }
        }
    }
}
