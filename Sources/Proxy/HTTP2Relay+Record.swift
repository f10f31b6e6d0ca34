import NIOCore
import NIOHPACK
import NIOHTTP2

/// What one relayed stream leaves behind, as an HTTP/1.1 exchange does in `ProxyHandler.finish`:
/// an access-log line, the route's metrics, the request inspector's entry. Filled in as frames
/// pass; each step is a nil check when the access log or the inspector is off.
struct HTTP2RelayRecord {
    let started: NIODeadline
    let method: String
    /// `:path` as the client sent it (before a path route strips its prefix).
    let path: String
    /// The route's host.
    let host: String
    let requestID: String
    /// `:status` of the response's head (0 until it came).
    var status = 0
    /// `grpc-status` of the trailers (or of a trailers-only response), when there is one.
    var grpcStatus: Int?
    /// Response body bytes sent to the client.
    var bytes = 0
    var inspected: InspectedExchange?
    /// The line, the metrics and the inspector's end are written once.
    var ended = false
}

extension HTTP2Relay {
    /// The inspector's record of a stream (nil when it is off): the request head as the client
    /// sent it, in the HTTP/1.1 form the inspector keeps (`:authority` as `host`, cookie crumbs
    /// as they came).
    static func inspect(
        _ headers: HPACKHeaders, record: HTTP2RelayRecord, label: String, ring: InspectorRing?, secure: Bool
    ) -> InspectedExchange? {
        guard let ring, ring.recording else { return nil }
        var head = ByteBufferAllocator().buffer(capacity: 256)
        head.writeString("\(record.method) \(record.path) HTTP/1.1\r\n")
        if headers.first(name: "host") == nil, let authority = headers.first(name: ":authority") {
            head.writeString("host: \(authority)\r\n")
        }
        writeFields(headers, into: &head)
        return ring.begin(
            stream: .init(
                started: record.started, host: record.host, label: label, requestID: RequestID(sent: ByteBuffer(string: record.requestID)),
                secure: secure, requestHead: head))
    }

    /// Regular fields as HTTP/1.1 lines and the blank line (pseudo-fields left out).
    static func writeFields(_ headers: HPACKHeaders, into out: inout ByteBuffer) {
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    static func responseHeadBytes(_ headers: HPACKHeaders, status: Int) -> ByteBuffer {
        var head = ByteBufferAllocator().buffer(capacity: 256)
        head.writeString("HTTP/1.1 \(status) \r\n")
        writeFields(headers, into: &head)
        return head
    }

    /// A client frame that goes upstream.
    func noteRequest(_ frame: HTTP2Frame.FramePayload) {
        guard let inspected = record.inspected else { return }
        switch frame {
        case .data(let data):
            if case .byteBuffer(let bytes) = data.data { inspected.requestBytes(bytes) }
        case .headers(let trailers):
            inspected.trailers(trailers.headers, response: false)
        default:
            break
        }
    }

    /// A response HEADERS frame on its way to the client: the head, or the trailers.
    func noteResponse(_ headers: HPACKHeaders) {
        if let text = headers.first(name: "grpc-status") { record.grpcStatus = Int(text) }
        if record.status == 0 {
            record.status = headers.first(name: ":status").flatMap { Int($0) } ?? 0
            record.inspected?.responded(head: Self.responseHeadBytes(headers, status: record.status), chunked: false, status: record.status)
        } else {
            record.inspected?.trailers(headers, response: true)
        }
    }

    func noteResponse(_ body: ByteBuffer) {
        record.bytes += body.readableBytes
        record.inspected?.responseBytes(body)
    }

    /// devhost's own answer to the stream (a failure, an injected error), kept whole.
    func noteLocalAnswer(_ headers: HPACKHeaders, body: ByteBuffer?) {
        if let text = headers.first(name: "grpc-status") { record.grpcStatus = Int(text) }
        record.status = headers.first(name: ":status").flatMap { Int($0) } ?? 0
        if let inspected = record.inspected {
            var answer = Self.responseHeadBytes(headers, status: record.status)
            if let body { answer.writeImmutableBuffer(body) }
            inspected.answeredLocally(answer, status: record.status)
        }
    }

    /// The response's end went to the client: its line, its metrics, its inspector entry's end. A
    /// stream that ends otherwise (reset, the client gone) is kept by the inspector as cut off and
    /// logged by neither, as on HTTP/1.1.
    func recordEnd() {
        guard !record.ended else { return }
        record.ended = true
        let finished = NIODeadline.now()
        let nanoseconds = (finished - record.started).nanoseconds
        shared.metrics.record(shared.metrics.route(service), status: record.status, seconds: Double(nanoseconds) / 1e9)
        record.inspected?.finished(status: record.status, instance: instance, at: finished)
        accessLines?.record(
            method: ByteBuffer(string: record.method), host: record.host, target: ByteBuffer(string: record.path),
            status: record.status, bytes: record.bytes, nanoseconds: nanoseconds,
            requestID: RequestID(sent: ByteBuffer(string: record.requestID)), instance: instance, grpcStatus: record.grpcStatus)
    }

    /// The stream closed: an exchange that did not end is cut off.
    func recordGone() {
        if !record.ended { record.inspected?.cutOff(at: .now()) }
    }
}
