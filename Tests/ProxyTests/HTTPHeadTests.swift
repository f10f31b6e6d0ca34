import NIOCore
import Testing

@testable import DevhostProxy

/// The proxy's in-place HTTP/1 head parser, header rewriting and body framing, byte for byte.
@Suite struct HTTPHeadTests {
    /// The parse status, the head (meaningful when complete) and what is left of the bytes.
    private func parse(_ text: String, request: Bool = true, maxHead: Int = 32 * 1024, maxTarget: Int = 8192) -> (
        HTTPHead.Status, HTTPHead, ByteBuffer
    ) {
        var buffer = ByteBuffer(string: text)
        var head = HTTPHead(bytes: ByteBuffer())
        let status = HTTPHead.parse(&buffer, into: &head, isRequest: request, maxHead: maxHead, maxTarget: maxTarget)
        return (status, head, buffer)
    }

    private func head(_ text: String, request: Bool = true) throws -> HTTPHead {
        let (status, head, _) = parse(text, request: request)
        guard case .complete = status else {
            Issue.record("not a complete head: \(text.debugDescription)")
            throw CancellationError()
        }
        return head
    }

    private func failure(_ text: String, maxTarget: Int = 8192) -> HTTPHead.Failure? {
        if case .failed(let failure) = parse(text, maxTarget: maxTarget).0 { return failure }
        return nil
    }

    @Test func requestLineAndFieldsAreRangesOfTheBytes() throws {
        let (result, head, rest) = parse(
            "\r\nPROPFIND /a%2Fb?x=1& HTTP/1.1\r\nHost: API.shop.localhost:7777\r\nX-Thing:  spaced value \t\r\n\r\nNEXT")
        guard case .complete = result else {
            Issue.record("incomplete")
            return
        }
        #expect(head.methodString == "PROPFIND")
        #expect(head.targetString == "/a%2Fb?x=1&")
        #expect(head.minor == 1)
        #expect(head.value(.host) == "API.shop.localhost:7777")
        #expect(head.fields.count == 2)
        #expect(head.string(head.fields[1].value) == "spaced value")
        #expect(rest.getString(at: rest.readerIndex, length: rest.readableBytes) == "NEXT", "the reader stops right after the head")
    }

    @Test func incompleteHeadsWaitForMoreBytes() {
        for text in ["", "GET", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"] {
            guard case .incomplete = parse(text).0 else {
                Issue.record("\(text.debugDescription) should be incomplete")
                continue
            }
        }
    }

    @Test func malformedAndOversizedHeadsAreRefusedWithTheirReason() {
        #expect(failure("GARBAGE\u{1} / HTTP/9.9\r\n\r\n") == .malformed)
        #expect(failure("GET / HTTP/2.0\r\n\r\n") == .malformed)
        #expect(failure("GET  / HTTP/1.1\r\n\r\n") == .malformed)
        #expect(failure("GET / HTTP/1.1\r\nNo colon here\r\n\r\n") == .malformed)
        #expect(failure("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n") == .malformed)
        #expect(failure("GET / HTTP/1.1\r\nA: 1\r\n folded: continuation\r\n\r\n") == .malformed, "obs-fold is refused")
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == .malformed, "two different lengths")
        #expect(failure("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == .malformed)
        #expect(failure("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\n\r\n", maxTarget: 50) == .targetTooLong)
        #expect(failure("GET /" + String(repeating: "a", count: 200), maxTarget: 50) == .targetTooLong, "even before the line ends")
        #expect(failure("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 40_000)) == .tooLarge)
        #expect(failure("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 40_000) + "\r\n\r\n") == .tooLarge)
    }

    @Test func connectionAndFramingFieldsAreUnderstood() throws {
        let h10 = try head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(h10.minor == 0 && h10.keepAlive)
        #expect(try !head("GET / HTTP/1.0\r\n\r\n").keepAlive)
        #expect(try !head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive)
        let upgrade = try head("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(upgrade.isUpgrade && upgrade.keepAlive)
        let chunked = try head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(chunked.chunked && chunked.chunkedOnly)
        #expect(BodyFraming.request(chunked).map { if case .chunked = $0 { return true } else { return false } } == true)
        let gzip = try head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        #expect(gzip.chunked && !gzip.chunkedOnly && BodyFraming.request(gzip) == nil, "only chunked alone, as nginx")
        #expect(RequestRefusal.check(gzip, allowTrace: false)?.status == .notImplemented)
        #expect(
            BodyFraming.request(try head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")) == nil, "chunked must come last")
        #expect(
            BodyFraming.request(try head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")) == nil,
            "TE with CL is refused")
        let response = try head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", request: false)
        #expect(response.status == 200 && BodyFraming.response(response, toHEAD: false).isDone)
        let untilClose = BodyFraming.response(try head("HTTP/1.0 200 OK\r\n\r\n", request: false), toHEAD: false)
        if case .untilClose = untilClose {} else { Issue.record("a response without a length ends with the connection") }
        #expect(BodyFraming.response(try head("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", request: false), toHEAD: true).isDone)
        #expect(
            BodyFraming.response(try head("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", request: false), toHEAD: false).isDone)
    }

    @Test func upstreamRequestKeepsTheClientsLinesAndReplacesForwarding() throws {
        let request = try head(
            "GET /x?y HTTP/1.1\nHost: api.localhost:7777\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n"
                + "X-Forwarded-For: 6.6.6.6\r\nX-Request-ID: old\r\nCookie: a=1\r\nCookie: b=2\r\nContent-Length: 0\r\n\r\n")
        var out = ByteBuffer()
        ProxyHeaders.upstreamRequest(request, client: ClientAddress("127.0.0.1"), requestID: id("abc"), rewriteHost: nil, into: &out)
        #expect(
            String(buffer: out)
                == "GET /x?y HTTP/1.1\r\nHost: api.localhost:7777\r\nCookie: a=1\r\nCookie: b=2\r\nContent-Length: 0\r\n"
                + "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: api.localhost:7777\r\n"
                + "Forwarded: for=127.0.0.1;host=\"api.localhost:7777\";proto=http\r\nX-Request-ID: abc\r\n\r\n")
        var rewritten = ByteBuffer()
        ProxyHeaders.upstreamRequest(
            request, client: ClientAddress("::1"), requestID: id("abc"), rewriteHost: ("127.0.0.1", 9000), into: &rewritten)
        #expect(String(buffer: rewritten).contains("\r\nHost: 127.0.0.1:9000\r\n"))
        #expect(String(buffer: rewritten).contains("Forwarded: for=\"[::1]\";host=\"api.localhost:7777\""))
        #expect(!String(buffer: rewritten).contains("\r\nHost: api.localhost:7777\r\n"))
    }

    @Test func downstreamResponseSpeaksTheClientsVersion() throws {
        let response = try head(
            "HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nX-Request-ID: theirs\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n",
            request: false)
        var kept = ByteBuffer()
        ProxyHeaders.downstreamResponse(response, clientMinor: 1, requestID: id("id1"), closing: false, into: &kept)
        #expect(
            String(buffer: kept)
                == "HTTP/1.1 200 OK\r\nServer: x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\nX-Request-ID: id1\r\n\r\n")
        var old = ByteBuffer()
        ProxyHeaders.downstreamResponse(response, clientMinor: 0, requestID: id("id1"), closing: false, into: &old)
        #expect(String(buffer: old).hasPrefix("HTTP/1.0 200 OK\r\n") && String(buffer: old).hasSuffix("Connection: keep-alive\r\n\r\n"))
        var closing = ByteBuffer()
        ProxyHeaders.downstreamResponse(
            try head("HTTP/1.1 204\r\n\r\n", request: false), clientMinor: 1, requestID: id("i"), closing: true, into: &closing)
        #expect(String(buffer: closing) == "HTTP/1.1 204\r\nX-Request-ID: i\r\nConnection: close\r\n\r\n")
    }

    private func id(_ text: String) -> RequestID { RequestID(sent: ByteBuffer(string: text)) }

    @Test func generatedRequestIDsAreSixteenHexDigits() {
        #expect(RequestID(generated: 0xAB).string == "00000000000000ab")
        #expect(RequestID(sent: ByteBuffer(string: "mine")).string == "mine")
    }

    @Test func chunkedFramingIsFollowedAcrossAnySplit() {
        let body = "5;ext=1\r\nhello\r\n0a\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
        let bytes = Array(body.utf8) + Array("GET /next".utf8)
        for split in 1...bytes.count {
            var scanner = ChunkedScanner()
            var consumed = 0
            for piece in stride(from: 0, to: bytes.count, by: split) where !scanner.isDone {
                let part = Array(bytes[piece..<min(piece + split, bytes.count)])
                let taken = part.withUnsafeBytes { scanner.scan($0) }
                consumed += taken ?? -1_000_000
            }
            #expect(scanner.isDone && consumed == body.utf8.count, "split \(split): consumed \(consumed)")
        }
        for broken in ["zz\r\n", "5\r\nhelloX\r\n", "\r\n", "1234567890123456\r\n", "5\nhello\r\n", "5\r\nhello\n", "0\r\nX: y\n\r\n"] {
            var scanner = ChunkedScanner()
            #expect(Array(broken.utf8).withUnsafeBytes { scanner.scan($0) } == nil, "\(broken.debugDescription)")
        }
    }

    @Test func lengthFramingTakesOnlyItsBytes() {
        var framing = BodyFraming.length(5)
        var buffer = ByteBuffer(string: "abc")
        let first = framing.take(from: &buffer)
        #expect(first??.readableBytes == 3 && !framing.isDone)
        buffer = ByteBuffer(string: "deGET /")
        let second = framing.take(from: &buffer)
        #expect(second??.readableBytes == 2 && framing.isDone && buffer.readableBytes == 5)
    }
}
