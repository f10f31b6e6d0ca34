import NIOCore
import NIOEmbedded
import Testing

@testable import DevhostProxy

/// `ProxyHandler` on `EmbeddedChannel`s, without a socket or a process: the client and every
/// upstream connection are embedded channels on one loop (the upstream ones come from the
/// context's connector), and each test compares the exact bytes that cross both ways.
final class EmbeddedProxy {
    let loop = EmbeddedEventLoop()
    let context: ProxyContext
    let client: EmbeddedChannel
    /// Upstream connections in the order they were opened.
    private(set) var upstreams: [EmbeddedChannel] = []
    /// When set, a connection attempt waits for this promise (a slow connect) or fails with it.
    var pendingConnect: EventLoopPromise<Void>?

    init(
        routes: [ProxyRoutes.Route] = [.init(host: "api.localhost", target: .address(host: "127.0.0.1", port: 9000))],
        inspector: Inspector? = nil
    ) throws {
        var settings = ProxyContext.Settings()
        settings.accessLog = .off
        context = ProxyContext(routes: ProxyRoutes(routes), instances: RouteTable(), settings: settings, inspector: inspector)
        client = EmbeddedChannel(loop: loop)
        client.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 7777)
        let box = Box(self)
        let loop = self.loop
        context.connector = { _, _, initializer in
            let channel = EmbeddedChannel(loop: loop)
            return initializer(channel).flatMap {
                box.proxy?.upstreams.append(channel)
                let connected = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9000))
                guard let waiting = box.proxy?.pendingConnect else { return connected.map { channel } }
                return waiting.futureResult.flatMap { connected }.map { channel }
            }
        }
        try client.pipeline.syncOperations.addHandler(ProxyHandler(shared: context))
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7777)).wait()
    }

    private final class Box: @unchecked Sendable {
        weak var proxy: EmbeddedProxy?
        init(_ proxy: EmbeddedProxy) { self.proxy = proxy }
    }

    /// Sends client bytes and runs the loop's tasks (end-of-tick flushes).
    func send(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    /// Upstream `index` answers.
    func answer(_ text: String, on index: Int = -1) throws {
        let upstream = index < 0 ? upstreams.last! : upstreams[index]
        try upstream.writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    /// Everything written to upstream `index` so far.
    func upstreamBytes(_ index: Int = -1) throws -> String {
        guard !upstreams.isEmpty else { return "" }
        let upstream = index < 0 ? upstreams.last! : upstreams[index]
        var out = ""
        while let buffer = try upstream.readOutbound(as: ByteBuffer.self) { out += String(buffer: buffer) }
        return out
    }

    /// Everything written to the client so far.
    func clientBytes() throws -> String {
        var out = ""
        while let buffer = try client.readOutbound(as: ByteBuffer.self) { out += String(buffer: buffer) }
        return out
    }

    func finish() {
        _ = try? client.finish()
        for upstream in upstreams { _ = try? upstream.finish() }
    }
}

@Suite struct ProxyHandlerTests {
    static let forwarding =
        "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: api.localhost\r\nForwarded: for=127.0.0.1;host=\"api.localhost\";proto=http\r\n"

    @Test func aRequestGoesUpstreamWithForwardingFieldsAndItsAnswerComesBack() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET /items?x=1 HTTP/1.1\r\nHost: api.localhost\r\nAccept: */*\r\nX-Forwarded-For: 6.6.6.6\r\nX-Request-ID: r1\r\n\r\n")
        #expect(
            try p.upstreamBytes() == "GET /items?x=1 HTTP/1.1\r\nHost: api.localhost\r\nAccept: */*\r\n" + Self.forwarding
                + "X-Request-ID: r1\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        #expect(try p.clientBytes() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-ID: r1\r\n\r\nok")
    }

    @Test func theUpstreamConnectionIsReusedForTheNextRequest() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        for id in ["a", "b", "c"] {
            try p.send("GET /\(id) HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: \(id)\r\n\r\n")
            #expect(try p.upstreamBytes().hasPrefix("GET /\(id) HTTP/1.1\r\n"))
            try p.answer("HTTP/1.1 204 No Content\r\n\r\n")
            #expect(try p.clientBytes() == "HTTP/1.1 204 No Content\r\nX-Request-ID: \(id)\r\n\r\n")
        }
        #expect(p.upstreams.count == 1)
    }

    @Test func pipelinedRequestsWaitForTheAnswerBeforeThem() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send(
            "GET /1 HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 2\r\n\r\n"
        )
        let first = try p.upstreamBytes()
        #expect(first.hasPrefix("GET /1 ") && !first.contains("GET /2"))
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        #expect(try p.upstreamBytes().hasPrefix("GET /2 "))
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        #expect(
            try p.clientBytes()
                == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Request-ID: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Request-ID: 2\r\n\r\n2"
        )
    }

    @Test func interimAnswersPassBeforeTheFinalOne() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("POST /u HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: i\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        try p.answer("HTTP/1.1 100 Continue\r\n\r\n")
        #expect(try p.clientBytes() == "HTTP/1.1 100 Continue\r\nX-Request-ID: i\r\n\r\n")
        try p.send("abc")
        #expect(try p.upstreamBytes().hasSuffix("\r\n\r\nabc"))
        try p.answer("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        #expect(try p.clientBytes() == "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nX-Request-ID: i\r\n\r\n")
    }

    @Test func aHEADAnswerHasNoBodyWhateverItsLength() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("HEAD / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: h\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        #expect(try p.clientBytes() == "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Request-ID: h\r\n\r\n")
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: g\r\n\r\n")
        #expect(p.upstreams.count == 1, "the connection went back to the pool")
    }

    @Test func anUpgradeBecomesABytePipe() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET /ws HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: w\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(try p.upstreamBytes().hasSuffix("X-Request-ID: w\r\nConnection: upgrade\r\n\r\n"))
        try p.answer("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhello")
        #expect(
            try p.clientBytes()
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Request-ID: w\r\nConnection: upgrade\r\n\r\nhello")
        try p.send("\u{1}raw client bytes")
        #expect(try p.upstreamBytes() == "\u{1}raw client bytes")
        try p.answer("raw upstream bytes")
        #expect(try p.clientBytes() == "raw upstream bytes")
    }

    @Test func anEarlyAnswerClosesBothConnections() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("POST /big HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: e\r\nContent-Length: 100\r\n\r\n0123456789")
        try p.answer("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        #expect(
            try p.clientBytes() == "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nX-Request-ID: e\r\nConnection: close\r\n\r\n")
        #expect(!p.upstreams[0].isActive, "an upstream still owed a body serves no one else")
    }

    @Test func aResponseEndedByCloseEndsTheClientConnection() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: c\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\n\r\nsome")
        try p.answer("thing")
        try p.upstreams[0].close().wait()
        p.loop.run()
        #expect(try p.clientBytes() == "HTTP/1.1 200 OK\r\nX-Request-ID: c\r\nConnection: close\r\n\r\nsomething")
    }

    @Test func anHTTP10ClientIsAnsweredIn10AndKeptAliveWhenItAsks() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.0\r\nHost: api.localhost\r\nConnection: keep-alive\r\nX-Request-ID: k\r\n\r\n")
        #expect(try p.upstreamBytes().hasPrefix("GET / HTTP/1.0\r\nHost: api.localhost\r\n"))
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        #expect(try p.clientBytes() == "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nX-Request-ID: k\r\nConnection: keep-alive\r\n\r\nx")
    }

    @Test func chunkedToAnHTTP10ClientIsDechunked() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.0\r\nHost: api.localhost\r\nX-Request-ID: d\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        try p.answer("2;x=y\r\nde\r\n0\r\n\r\n")
        #expect(try p.clientBytes() == "HTTP/1.0 200 OK\r\nX-Request-ID: d\r\nConnection: close\r\n\r\nabcde")
    }

    @Test func contentLengthBesideChunkedIsRemoved() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: t\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(try p.clientBytes() == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-ID: t\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    }

    /// A pooled connection the upstream closes just as it is reused: the request goes again, once,
    /// on a new connection.
    @Test func aReusedConnectionThatClosesIsRetriedOnceOnANewOne() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET /1 HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 1\r\n\r\n")
        try p.answer("HTTP/1.1 204 No Content\r\n\r\n")
        _ = try p.clientBytes()
        try p.send("GET /2 HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 2\r\n\r\n")
        #expect(try p.upstreamBytes(0).hasPrefix("GET /1 "))
        try p.upstreams[0].close().wait()
        p.loop.run()
        #expect(p.upstreams.count == 2)
        #expect(try p.upstreamBytes(1).hasPrefix("GET /2 HTTP/1.1\r\n"))
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", on: 1)
        #expect(try p.clientBytes() == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-ID: 2\r\n\r\n")
    }

    @Test func aBodyAlreadySentIsNeverSentAgain() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET /1 HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 1\r\n\r\n")
        try p.answer("HTTP/1.1 204 No Content\r\n\r\n")
        _ = try p.clientBytes()
        try p.send("POST /pay HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 2\r\nContent-Length: 3\r\n\r\nabc")
        try p.upstreams[0].close().wait()
        p.loop.run()
        #expect(p.upstreams.count == 1, "not retried")
        #expect(try p.clientBytes().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
    }

    @Test func aFailedConnectIsABadGateway() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        let refused = p.loop.makePromise(of: Void.self)
        p.pendingConnect = refused
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: f\r\n\r\n")
        refused.fail(ChannelError.connectTimeout(.seconds(3)))
        p.loop.run()
        let answer = try p.clientBytes()
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n") && answer.contains("X-Request-ID: f\r\n"), "\(answer)")
    }

    /// A body that arrives while the connection is being made waits (up to `pendingLimit`; past it
    /// the client is not read) and then goes out in order after the head.
    @Test func aBodyArrivingBeforeTheConnectionGoesOutInOrder() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        let slow = p.loop.makePromise(of: Void.self)
        p.pendingConnect = slow
        let body = String(repeating: "x", count: ProxyHandler.pendingLimit) + String(repeating: "y", count: 1000)
        try p.send("POST /up HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: u\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        try p.send(String(body.prefix(ProxyHandler.pendingLimit)))
        try p.send(String(body.dropFirst(ProxyHandler.pendingLimit)))
        slow.succeed()
        p.loop.run()
        let sent = try p.upstreamBytes()
        #expect(sent.hasPrefix("POST /up HTTP/1.1\r\n") && sent.hasSuffix("\r\n\r\n" + body), "\(sent.count)")
    }

    @Test func bytesFromAnIdlePooledConnectionCloseIt() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 1\r\n\r\n")
        try p.answer("HTTP/1.1 204 No Content\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle")
        #expect(!p.upstreams[0].isActive)
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 2\r\n\r\n")
        #expect(p.upstreams.count == 2, "a new connection for the next request")
        #expect(!(try p.clientBytes()).contains("smuggle"))
    }

    @Test func leftoverBytesAfterAResponseRetireTheConnection() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: api.localhost\r\nX-Request-ID: 1\r\n\r\n")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
        #expect(try p.clientBytes().hasSuffix("\r\n\r\nok"))
        #expect(!p.upstreams[0].isActive)
    }

    @Test func anUnknownHostGetsTheRouteList() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: web.localhost\r\nAccept: application/json\r\nX-Request-ID: n\r\n\r\n")
        let answer = try p.clientBytes()
        #expect(answer.hasPrefix("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"))
        #expect(answer.contains("\"error\":\"no route for web.localhost\"") && answer.contains("http://api.localhost:7777/"), "\(answer)")
        #expect(p.upstreams.isEmpty)
    }

    @Test func aRefusedHeadIsAnsweredAndTheConnectionClosed() throws {
        let p = try EmbeddedProxy()
        defer { p.finish() }
        try p.send("GET / HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost\r\nX-Request-ID: r\r\n\r\n")
        let answer = try p.clientBytes()
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && answer.contains("Connection: close\r\n"), "\(answer)")
        #expect(answer.contains("more than one Host field"))
        #expect(p.upstreams.isEmpty)
    }
}
