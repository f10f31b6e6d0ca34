import Foundation
import NIOCore

/// One recorded exchange as readers see it: heads parsed into fields, bodies de-chunked, times in
/// milliseconds. Made in the reader from a snapshot (never on the proxy's path); values are as
/// recorded, unmasked: masking is the presenter's (`Inspector.secretFields`).
public struct InspectedRequest: Sendable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public enum State: String, Sendable {
        case inFlight = "in_flight"
        case complete
        /// The client or the upstream went before the response ended.
        case cutOff = "cut_off"
    }

    public var id: Int
    public var startedAt: Date
    public var method: String
    public var host: String
    /// As the client sent it (path and query).
    public var target: String
    /// The service (or, for other routes, the host) the request was counted under.
    public var service: String
    public var instance: String?
    public var requestID: String
    /// The client came over TLS.
    public var secure: Bool
    /// 0 until a response head has come.
    public var status: Int
    public var state: State
    /// From the request head to the request leaving for an instance (waiting for a healthy one, connecting).
    public var upstreamWaitMilliseconds: Double?
    /// From the request head to the response head.
    public var firstByteMilliseconds: Double?
    public var totalMilliseconds: Double?
    public var requestHeaders: [Field]
    public var responseHeaders: [Field]
    /// Trailers (relayed HTTP/2 streams to h2c and gRPC services: `grpc-status`, `grpc-message`).
    public var requestTrailers: [Field]
    public var responseTrailers: [Field]
    /// The first `Inspector.Limits.bodyBytes` of each body (de-chunked); the sizes count every byte.
    public var requestBody: [UInt8]
    public var requestBodySize: Int
    public var responseBody: [UInt8]
    public var responseBodySize: Int
    /// Whether only part of the body was kept.
    public var requestBodyTruncated: Bool
    public var responseBodyTruncated: Bool
    /// devhost answered itself (404, 502, 503 …): no upstream saw the request.
    public var answeredByDevhost: Bool

    init(_ snapshot: InspectedSnapshot, inspector: Inspector) {
        id = snapshot.id
        startedAt = inspector.wallTime(snapshot.started)
        host = snapshot.host
        service = snapshot.label
        instance = snapshot.instance
        requestID = snapshot.requestID.string
        secure = snapshot.secure
        status = snapshot.status
        switch snapshot.phase {
        case .inFlight: state = .inFlight
        case .complete: state = .complete
        case .cutOff: state = .cutOff
        }
        func milliseconds(_ instant: NIODeadline?) -> Double? {
            instant.map { Double(($0 - snapshot.started).nanoseconds) / 1e6 }
        }
        upstreamWaitMilliseconds = milliseconds(snapshot.sent)
        firstByteMilliseconds = milliseconds(snapshot.firstByte)
        totalMilliseconds = milliseconds(snapshot.ended)

        var head = HTTPHead(bytes: ByteBuffer())
        var bytes = snapshot.requestHead
        if case .complete = HTTPHead.parse(&bytes, into: &head, isRequest: true, maxHead: 1 << 30, maxTarget: 1 << 30) {
            method = head.methodString
            target = head.targetString
            requestHeaders = Self.fields(head)
        } else {
            method = ""
            target = ""
            requestHeaders = []
        }
        var request = snapshot.requestBody.map { Array($0.readableBytesView) } ?? []
        if snapshot.requestChunked { request = ChunkedText.decode(request) }
        requestBody = request
        requestBodySize = snapshot.requestBodySize
        requestBodyTruncated = snapshot.requestBodySize > (snapshot.requestBody?.readableBytes ?? 0)

        requestTrailers = snapshot.requestTrailers
        responseTrailers = snapshot.responseTrailers
        answeredByDevhost = snapshot.responseLocal
        var response = snapshot.responseBody.map { Array($0.readableBytesView) } ?? []
        var responseSize = snapshot.responseBodySize
        responseHeaders = []
        if var bytes = snapshot.responseHead {
            var parsed = HTTPHead(bytes: ByteBuffer())
            if case .complete = HTTPHead.parse(&bytes, into: &parsed, isRequest: false, maxHead: 1 << 30, maxTarget: 0) {
                responseHeaders = Self.fields(parsed)
                if snapshot.responseLocal {
                    // devhost's own answer was kept whole: its body follows the head.
                    response = Array(bytes.readableBytesView)
                    responseSize = parsed.contentLength ?? response.count
                }
            }
        }
        if snapshot.responseChunked { response = ChunkedText.decode(response) }
        responseBody = response
        responseBodySize = responseSize
        responseBodyTruncated = snapshot.responseLocal ? false : snapshot.responseBodySize > (snapshot.responseBody?.readableBytes ?? 0)

    }

    private static func fields(_ head: HTTPHead) -> [Field] {
        head.fields.filter { $0.kind != .connectionToken }.map { Field(name: head.string($0.name), value: head.string($0.value)) }
    }

    /// Whether `name` (any case) is one whose value is masked.
    public static func isSecret(_ name: String) -> Bool { Inspector.secretFields.contains(name.lowercased()) }
}

/// Chunked transfer coding taken off a kept body, as far as it goes: a body cut at the size limit
/// ends mid-chunk, and what is there is kept.
enum ChunkedText {
    static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            var size = 0
            var digits = 0
            while index < bytes.count, let digit = hexValue(bytes[index]) {
                size = size &* 16 &+ digit
                digits += 1
                index += 1
            }
            guard digits > 0, size >= 0 else { break }
            // Chunk extensions and the line end.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            index += 1
            if size == 0 { break }
            let end = min(bytes.count, index + size)
            if index < end { out += bytes[index..<end] }
            index = end + 2
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
