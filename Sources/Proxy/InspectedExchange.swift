import NIOCore
import NIOHPACK

/// One exchange as the request inspector keeps it, from its request head to its end. Filled in on
/// the client connection's event loop by `ProxyHandler`'s hooks with cheap steps only (a copy of
/// each head, the first `Inspector.Limits.bodyBytes` of each body, a few instants) and read on
/// that loop too (`InspectorRing.snapshot`), so it needs no lock. Parsing the heads, de-chunking,
/// masking and JSON happen in the reader (`InspectedRequest`).
final class InspectedExchange {
    enum Phase: UInt8, Sendable {
        case inFlight, complete, cutOff
    }

    let id: Int
    let started: NIODeadline
    let host: String
    let label: String
    let requestID: RequestID
    /// The client came over TLS (a replay goes the same way).
    let secure: Bool
    /// The request head as the client sent it (before the proxy's own fields).
    let requestHead: ByteBuffer
    /// The request body's bytes carry their chunked framing.
    let requestChunked: Bool
    var requestBody: ByteBuffer?
    var requestBodySize = 0
    /// The response head; for devhost's own answers the whole answer, body included.
    var responseHead: ByteBuffer?
    var responseLocal = false
    /// The response body's bytes carry their chunked framing.
    var responseChunked = false
    var responseBody: ByteBuffer?
    var responseBodySize = 0
    /// Trailers (HTTP/2 streams relayed to h2c and gRPC services: `grpc-status` and the like).
    var requestTrailers: [InspectedRequest.Field] = []
    var responseTrailers: [InspectedRequest.Field] = []
    var sent: NIODeadline?
    var firstByte: NIODeadline?
    var ended: NIODeadline?
    var status = 0
    var instance: String?
    var phase = Phase.inFlight
    /// What this exchange counts against its ring's byte budget (storage it holds, not just bytes).
    var accounted = 0
    /// Dropped from the ring (its place or its bytes were needed): nothing more is kept.
    var evicted = false
    unowned let ring: InspectorRing

    init(id: Int, exchange: ProxyExchange, secure: Bool, ring: InspectorRing) {
        self.id = id
        self.ring = ring
        self.secure = secure
        started = exchange.started
        host = exchange.route.host
        label = exchange.route.label
        requestID = exchange.requestID
        let head = exchange.head
        var copy = ByteBufferAllocator().buffer(capacity: head.bytes.readableBytes)
        copy.writeImmutableBuffer(head.bytes)
        requestHead = copy
        requestChunked = head.chunked
        accounted = InspectorRing.entryOverhead + copy.capacity
    }

    /// What an exchange that is not a `ProxyExchange` starts with (an HTTP/2 stream relayed to an
    /// h2c or gRPC service): its head already in the HTTP/1.1 form kept here.
    struct Start {
        var started: NIODeadline
        var host: String
        var label: String
        var requestID: RequestID
        var secure: Bool
        var requestHead: ByteBuffer
    }

    init(id: Int, start: Start, ring: InspectorRing) {
        self.id = id
        self.ring = ring
        started = start.started
        host = start.host
        label = start.label
        requestID = start.requestID
        secure = start.secure
        requestHead = start.requestHead
        requestChunked = false
        accounted = InspectorRing.entryOverhead + start.requestHead.capacity
    }

    func trailers(_ headers: HPACKHeaders, response: Bool) {
        guard !evicted else { return }
        var fields: [InspectedRequest.Field] = []
        var size = 0
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") {
            fields.append(.init(name: name, value: value))
            size += name.utf8.count + value.utf8.count + 32
        }
        if response { responseTrailers += fields } else { requestTrailers += fields }
        ring.grew(self, by: size)
    }

    func requestBytes(_ bytes: ByteBuffer) {
        requestBodySize += bytes.readableBytes
        keep(bytes, in: &requestBody)
    }

    func responseBytes(_ bytes: ByteBuffer) {
        responseBodySize += bytes.readableBytes
        keep(bytes, in: &responseBody)
    }

    /// Copies what still fits under the body limit; the rest is only counted.
    private func keep(_ bytes: ByteBuffer, in body: inout ByteBuffer?) {
        guard !evicted else { return }
        let limit = ring.bodyLimit
        let held = body?.readableBytes ?? 0
        let take = min(limit - held, bytes.readableBytes)
        guard take > 0 else { return }
        let before = body?.capacity ?? 0
        if body == nil {
            // Room for the whole limit when the first piece says more is coming: one allocation.
            body = ByteBufferAllocator().buffer(capacity: take < bytes.readableBytes ? limit : take)
        }
        body!.writeImmutableBuffer(bytes.getSlice(at: bytes.readerIndex, length: take)!)
        ring.grew(self, by: body!.capacity - before)
    }

    func sentUpstream(at time: NIODeadline, instance: String?) {
        sent = time
        self.instance = instance
    }

    func responded(head: ByteBuffer, chunked: Bool, status: Int) {
        firstByte = .now()
        self.status = status
        responseChunked = chunked
        storeResponseHead(head)
    }

    /// devhost's own answer (an error page, a redirect): kept whole.
    func answeredLocally(_ answer: ByteBuffer, status: Int) {
        if firstByte == nil { firstByte = .now() }
        self.status = status
        responseLocal = true
        storeResponseHead(answer.getSlice(at: answer.readerIndex, length: min(answer.readableBytes, ring.bodyLimit))!)
    }

    private func storeResponseHead(_ head: ByteBuffer) {
        guard !evicted else { return }
        var copy = ByteBufferAllocator().buffer(capacity: head.readableBytes)
        copy.writeImmutableBuffer(head)
        let before = responseHead?.capacity ?? 0
        responseHead = copy
        ring.grew(self, by: copy.capacity - before)
    }

    func finished(status: Int, instance: String?, at time: NIODeadline) {
        if status != 0 { self.status = status }
        if let instance { self.instance = instance }
        ended = time
        phase = .complete
    }

    /// The client went before the response ended.
    func cutOff(at time: NIODeadline) {
        guard phase == .inFlight else { return }
        ended = time
        phase = .cutOff
    }

    /// The values a reader takes away (on this loop; cheap: references to the kept buffers).
    var snapshot: InspectedSnapshot {
        InspectedSnapshot(
            id: id, started: started, host: host, label: label, requestID: requestID, secure: secure, requestHead: requestHead,
            requestChunked: requestChunked, requestBody: requestBody, requestBodySize: requestBodySize, responseHead: responseHead,
            responseLocal: responseLocal, responseChunked: responseChunked, responseBody: responseBody,
            responseBodySize: responseBodySize, requestTrailers: requestTrailers, responseTrailers: responseTrailers, sent: sent,
            firstByte: firstByte, ended: ended, status: status, instance: instance,
            phase: phase)
    }
}

/// An `InspectedExchange` copied out of its loop for a reader.
struct InspectedSnapshot: Sendable {
    var id: Int
    var started: NIODeadline
    var host: String
    var label: String
    var requestID: RequestID
    var secure: Bool
    var requestHead: ByteBuffer
    var requestChunked: Bool
    var requestBody: ByteBuffer?
    var requestBodySize: Int
    var responseHead: ByteBuffer?
    var responseLocal: Bool
    var responseChunked: Bool
    var responseBody: ByteBuffer?
    var responseBodySize: Int
    var requestTrailers: [InspectedRequest.Field] = []
    var responseTrailers: [InspectedRequest.Field] = []
    var sent: NIODeadline?
    var firstByte: NIODeadline?
    var ended: NIODeadline?
    var status: Int
    var instance: String?
    var phase: InspectedExchange.Phase
}
