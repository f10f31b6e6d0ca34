import Foundation
import NIOCore
import Testing

@testable import DevhostProxy

/// The request inspector's ring on the real `ProxyHandler` (embedded channels: no sockets, so
/// 100,000 exchanges fit in a few seconds): its entry and byte accounting against the storage the
/// entries really hold, and the process's resident memory.
@Suite struct InspectorRingTests {
    static func residentBytes() -> Int {
        let fields = ((try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "").split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// What an entry holds, measured from its buffers (not its own count).
    static func held(_ entry: InspectedExchange) -> Int {
        InspectorRing.entryOverhead + entry.requestHead.capacity + (entry.responseHead?.capacity ?? 0)
            + (entry.requestBody?.capacity ?? 0) + (entry.responseBody?.capacity ?? 0)
    }

    @Test func theRingStaysWithinItsBoundsThroughTheProxy() throws {
        var limits = Inspector.Limits()
        limits.entries = 500
        limits.bytes = 4 << 20
        let inspector = Inspector(limits: limits, loops: 1)
        let p = try EmbeddedProxy(inspector: inspector)
        defer { p.finish() }
        let ring = try #require(p.context.perLoop(p.loop).inspection)
        // Mostly small exchanges, and now and then bodies past the 64 KiB each body keeps.
        let sizes = [0, 120, 2_000, 0, 120, 0, 120, 90_000]
        let bodies = sizes.map { ByteBuffer(repeating: UInt8(ascii: "b"), count: $0) }
        let requestHeads = sizes.map {
            ByteBuffer(string: "POST /r HTTP/1.1\r\nHost: api.localhost\r\nAuthorization: Bearer s3cret\r\nContent-Length: \($0)\r\n\r\n")
        }
        let responseHeads = sizes.map { ByteBuffer(string: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: \($0)\r\n\r\n") }
        let before = Self.residentBytes()
        var peak = 0
        var received = 0
        var mostEntries = 0
        var mostBytes = 0
        for index in 0..<Self.throughProxy {
            let kind = index % sizes.count
            try p.client.writeInbound(requestHeads[kind])
            if sizes[kind] > 0 { try p.client.writeInbound(bodies[kind]) }
            p.loop.run()
            while try p.upstreams.last!.readOutbound(as: ByteBuffer.self) != nil {}
            try p.upstreams.last!.writeInbound(responseHeads[kind])
            if sizes[kind] > 0 { try p.upstreams.last!.writeInbound(bodies[kind]) }
            p.loop.run()
            while let out = try p.client.readOutbound(as: ByteBuffer.self) { received += out.readableBytes }
            // Checked after every exchange, asserted once (an expectation per exchange costs more than the exchange).
            mostEntries = max(mostEntries, ring.count)
            mostBytes = max(mostBytes, ring.bytes)
            if index % 5_000 == 4_999 {
                let entries = ring.entries
                #expect(ring.bytes == entries.reduce(0) { $0 + $1.accounted })
                #expect(entries.allSatisfy { $0.accounted == Self.held($0) })
                #expect(entries.allSatisfy { ($0.requestBody?.readableBytes ?? 0) <= limits.bodyBytes })
                peak = max(peak, Self.residentBytes() - before)
            }
        }
        #expect(mostEntries <= limits.entries && mostBytes <= limits.bytes, "at most \(mostEntries) entries and \(mostBytes) bytes")
        #expect(p.upstreams.count == 1, "one keep-alive upstream connection for every exchange")
        let entries = ring.entries
        #expect(entries.count > 0 && entries.count <= limits.entries)
        #expect(entries.last?.id == Self.throughProxy)
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.id + 1 == $1.id }, "the newest, in order")
        #expect(entries.allSatisfy { $0.phase == .complete && $0.status == 200 })
        // The byte budget, not the entry count, is what binds with bodies this size.
        #expect(ring.bytes <= limits.bytes && ring.bytes > limits.bytes / 2)
        #expect(peak < 64 << 20, "resident memory grew by \(peak >> 20) MiB")
        #expect(received > Self.throughProxy * 40)
    }

    /// Exchanges through the real handler (a debug build spends ~0.2 ms on each: the 100,000 go
    /// through the ring's own steps below).
    static let throughProxy = 8_000

    /// 100,000 exchanges through the ring's steps as the handler takes them (begin, body pieces,
    /// response head, end), with bodies past the kept size now and then.
    @Test func theRingStaysWithinItsBoundsAfter100000Exchanges() throws {
        var limits = Inspector.Limits()
        limits.bytes = 8 << 20
        let inspector = Inspector(limits: limits, loops: 1)
        let ring = InspectorRing(inspector: inspector, capacity: limits.entries, byteLimit: limits.bytes, bodyLimit: limits.bodyBytes)
        var raw = ByteBuffer(string: "POST /r?x=1 HTTP/1.1\r\nHost: api.localhost\r\nCookie: a=1\r\nContent-Length: 9\r\n\r\n")
        var head = HTTPHead(bytes: ByteBuffer())
        guard case .complete = HTTPHead.parse(&raw, into: &head, isRequest: true, maxHead: 1 << 20, maxTarget: 1 << 20) else {
            Issue.record("the head did not parse")
            return
        }
        let route = ResolvedRoute(header: [], generation: 0, host: "api.localhost", target: .address(host: "127.0.0.1", port: 9))
        let response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")
        let piece = ByteBuffer(repeating: UInt8(ascii: "p"), count: 16 << 10)
        let small = ByteBuffer(string: "123456789")
        let before = Self.residentBytes()
        var most = (entries: 0, bytes: 0)
        for index in 0..<100_000 {
            let exchange = ProxyExchange(
                head: head, route: route, requestID: RequestID(generated: UInt64(index)), requestBody: .none, now: .now())
            let entry = ring.begin(exchange, secure: false)
            entry.requestBytes(small)
            entry.responded(head: response, chunked: false, status: 200)
            // Every 50th a 1 MiB download: 64 KiB kept, the rest counted.
            for _ in 0..<(index % 50 == 0 ? 64 : 1) { entry.responseBytes(index % 50 == 0 ? piece : small) }
            entry.finished(status: 200, instance: nil, at: .now())
            most = (max(most.entries, ring.count), max(most.bytes, ring.bytes))
        }
        #expect(most.entries <= limits.entries && most.bytes <= limits.bytes, "\(most)")
        let entries = ring.entries
        #expect(entries.count == limits.entries && entries.last?.id == 100_000)
        #expect(ring.bytes == entries.reduce(0) { $0 + $1.accounted } && entries.allSatisfy { $0.accounted == Self.held($0) })
        let big = try #require(entries.first { $0.responseBodySize == 64 * (16 << 10) })
        #expect(big.responseBody?.readableBytes == limits.bodyBytes)
        #expect(Self.residentBytes() - before < 48 << 20)
    }

    /// `proxy.inspect` turned off by a reload: what was kept goes, an exchange in flight stops
    /// keeping, nothing new is recorded; turned on again, recording resumes.
    @Test func turnedOffTheRingEmptiesAndRecordsNothingUntilTurnedOn() throws {
        let inspector = Inspector(loops: 1)
        let p = try EmbeddedProxy(inspector: inspector)
        defer { p.finish() }
        let ring = try #require(p.context.perLoop(p.loop).inspection)
        try p.send("GET /kept HTTP/1.1\r\nHost: api.localhost\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        try p.send("GET /flight HTTP/1.1\r\nHost: api.localhost\r\n\r\n")
        let inFlight = try #require(ring.entries.last)
        #expect(ring.count == 2 && ring.bytes > 0)

        inspector.record(false)
        p.loop.run()
        #expect(!inspector.isRecording && ring.count == 0 && ring.bytes == 0 && inFlight.evicted)
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(inFlight.responseHead == nil, "an evicted entry keeps nothing more")
        try p.send("GET /unrecorded HTTP/1.1\r\nHost: api.localhost\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(ring.count == 0 && ring.bytes == 0)

        inspector.record(true)
        p.loop.run()
        try p.send("GET /again HTTP/1.1\r\nHost: api.localhost\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let targets = ring.entries.map { InspectedRequest($0.snapshot, inspector: inspector).target }
        #expect(targets == ["/again"])
        #expect(ring.entries.first?.id == 3, "ids go on: /flight was 2, /unrecorded had none")
    }

    @Test func aBodyPastTheLimitIsCountedNotKept() throws {
        let inspector = Inspector(loops: 1)
        let p = try EmbeddedProxy(inspector: inspector)
        defer { p.finish() }
        try p.send("POST /up HTTP/1.1\r\nHost: api.localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<40 { try p.send("1000\r\n" + String(repeating: "u", count: 4096) + "\r\n") }
        try p.send("0\r\n\r\n")
        try p.answer("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        let entry = try #require(p.context.perLoop(p.loop).inspection?.entries.first)
        let request = InspectedRequest(entry.snapshot, inspector: inspector)
        #expect(request.requestBodySize > 40 * 4096 && request.requestBodyTruncated)
        #expect(request.requestBody.count < 64 << 10 && request.requestBody.allSatisfy { $0 == UInt8(ascii: "u") })
        #expect(request.status == 201 && request.responseBody == Array("ok".utf8) && request.state == .complete)
    }

    @Test func chunkedBodiesAreShownDecoded() {
        #expect(ChunkedText.decode(Array("5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n".utf8)) == Array("hello world".utf8))
        // Cut mid-chunk at the size limit: what is there is kept.
        #expect(ChunkedText.decode(Array("5\r\nhel".utf8)) == Array("hel".utf8))
        #expect(ChunkedText.decode([]) == [])
    }
}
