import NIOCore
import NIOHTTP1
import Testing

@testable import DevhostProxy

/// The head checks behind the proxy's refusals, without a socket: each row is a request head and
/// the status it must get (nil: accepted).
@Suite struct RequestRefusalTests {
    private func parse(_ text: String) -> (HTTPHead.Status, HTTPHead) {
        var buffer = ByteBuffer(string: text)
        var head = HTTPHead(bytes: ByteBuffer())
        let status = HTTPHead.parse(&buffer, into: &head, isRequest: true, maxHead: 64 * 1024, maxTarget: 8192)
        return (status, head)
    }

    private func refusal(_ text: String) -> HTTPResponseStatus? {
        let (status, head) = parse(text)
        guard case .complete = status else {
            Issue.record("not a complete head: \(text.debugDescription)")
            return nil
        }
        return RequestRefusal.check(head, allowTrace: false)?.status
    }

    static let rows: [(String, HTTPResponseStatus?)] = [
        ("GET / HTTP/1.1\r\nHost: api.localhost\r\n\r\n", nil),
        ("GET / HTTP/1.0\r\n\r\n", nil),
        ("GET / HTTP/1.1\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: [api.localhost]\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: [::1]:7777\r\n\r\n", nil),
        ("GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: a:77777777\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nHost: x\";for=6.6.6.6\r\n\r\n", .badRequest),
        ("GET relative HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", nil),
        ("GET http://api.localhost/x HTTP/1.1\r\nHost: other\r\n\r\n", nil),
        ("GET http://api.localhost/x HTTP/1.1\r\n\r\n", nil),
        ("GET http://api.localhost/x HTTP/1.1\r\nHost: bad\"\r\n\r\n", .badRequest),
        ("CONNECT api.localhost:443 HTTP/1.1\r\nHost: api.localhost:443\r\n\r\n", .methodNotAllowed),
        ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", .methodNotAllowed),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", .badRequest),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", .badRequest),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .badRequest),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", .badRequest),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", .notImplemented),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .notImplemented),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", nil),
    ]

    @Test(arguments: rows)
    func headsGetTheirStatus(_ row: (String, HTTPResponseStatus?)) {
        #expect(refusal(row.0) == row.1, "\(row.0.debugDescription)")
    }

    @Test func traceCanBeAllowed() {
        let (_, head) = parse("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(RequestRefusal.check(head, allowTrace: true) == nil)
    }

    @Test func anAbsoluteTargetNamesTheHostAndGoesOnInOriginForm() {
        let (_, head) = parse("GET HTTP://API.localhost:7777/a/b?c HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(head.absoluteTarget)
        #expect(head.host.map { head.string($0) } == "API.localhost:7777")
        #expect(head.targetString == "/a/b?c")
        let (_, root) = parse("GET http://api.localhost HTTP/1.1\r\n\r\n")
        #expect(root.targetString == "/")
        for bad in ["GET http://user@api.localhost/ HTTP/1.1\r\n\r\n", "GET http:///x HTTP/1.1\r\n\r\n", "GET http:/x HTTP/1.1\r\n\r\n"] {
            guard case .failed(.malformed) = parse(bad).0 else {
                Issue.record("\(bad.debugDescription) should be malformed")
                continue
            }
        }
    }

    @Test func fieldsAndConnectionOptionsAreBounded() {
        let fields = (1...HTTPHead.maxFields).map { "X-\($0): v\r\n" }.joined()
        guard case .complete = parse("GET / HTTP/1.1\r\n\(fields)\r\n").0 else {
            Issue.record("\(HTTPHead.maxFields) fields are fine")
            return
        }
        guard case .failed(.tooManyFields) = parse("GET / HTTP/1.1\r\n\(fields)X-Last: v\r\n\r\n").0 else {
            Issue.record("one field more is refused")
            return
        }
        let tokens = (0...HTTPHead.maxConnectionTokens).map { "t\($0)" }.joined(separator: ", ")
        guard case .failed(.tooManyFields) = parse("GET / HTTP/1.1\r\nConnection: \(tokens)\r\n\r\n").0 else {
            Issue.record("Connection options are bounded")
            return
        }
    }

    @Test func underscoreSpellingsOfDevhostsFieldsAreMarked() {
        let (_, head) = parse(
            "GET / HTTP/1.1\r\nX_Forwarded_For: 6\r\nx-real_ip: 6\r\nHost_: a\r\nMy_Thing: b\r\nContent_Length: 4\r\n\r\n")
        #expect(head.fields.map(\.kind) == [.underscored, .underscored, .other, .other, .underscored])
        #expect(head.contentLength == nil, "an underscore spelling never frames a body")
    }

    @Test func requestIDsMustBePlainTokens() {
        for (value, plain) in [("abc-123", true), ("a b", false), ("\u{1b}[31m", false), ("x\"y", false), ("3f2b:trace/1+x=", true)] {
            let (_, head) = parse("GET / HTTP/1.1\r\nX-Request-ID: \(value)\r\n\r\n")
            #expect(RequestID.isPlain(head, head.first(.xRequestID)!.value) == plain, "\(value.debugDescription)")
        }
    }

    @Test func logTextEscapesTerminalControls() {
        #expect(LogText.printable("/plain/path") == "/plain/path")
        #expect(LogText.printable("a\u{1b}]0;title\u{07}b") == "a\\x1b]0;title\\x07b")
        #expect(LogText.printable("csi\u{9b}31m é") == "csi\\x9b31m é")
    }
}

/// Strict chunked framing: what may pass on as it came, and what is refused.
@Suite struct ChunkedStrictnessTests {
    private func scan(_ text: String) -> Int? {
        var scanner = ChunkedScanner()
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { scanner.scan($0) }
    }

    @Test func wellFormedLinesPass() {
        for body in [
            "5\r\nhello\r\n0\r\n\r\n", "5;a=b\r\nhello\r\n0\r\n\r\n", "5 ;a\r\nhello\r\n0\r\n\r\n",
            "5;q=\"x \\\" y\"\r\nhello\r\n0\r\n\r\n",
            "0\r\nX-Sum: 1\r\nY: \r\n\r\n",
        ] {
            #expect(scan(body) == body.utf8.count, "\(body.debugDescription)")
        }
    }

    @Test func linesTwoReadersCouldDisagreeOnAreRefused() {
        for body in [
            "5 \r\nhello\r\n0\r\n\r\n", "1 0\r\n", "5;a=\"open\r\nhello\r\n", ";x\r\n", "5\nhello", "0\r\nGET / HTTP/1.1\r\n\r\n",
            "0\r\n: empty\r\n\r\n", "0\r\nX: a\u{1}b\r\n\r\n", "5;" + String(repeating: "e", count: ChunkedScanner.maxExtension + 1),
            "0\r\n" + String(repeating: "X: y\r\n", count: ChunkedScanner.maxTrailers / 6 + 1),
        ] {
            #expect(scan(body) == nil, "\(body.prefix(60).debugDescription)")
        }
    }

    @Test func dechunkingKeepsOnlyTheDataAcrossSplits() {
        let body = Array("6\r\nhello \r\n5;x=1\r\nworld\r\n0\r\nT: 1\r\n\r\n".utf8)
        for split in 1..<body.count {
            var framing = BodyFraming.dechunked(ChunkedScanner())
            var out = ""
            for part in [Array(body[..<split]), Array(body[split...])] {
                var buffer = ByteBuffer(bytes: part)
                guard let taken = framing.take(from: &buffer) else {
                    Issue.record("refused at split \(split)")
                    return
                }
                if let taken { out += String(buffer: taken) }
                #expect(buffer.readableBytes == 0)
            }
            #expect(out == "hello world" && framing.isDone, "split \(split): \(out.debugDescription)")
        }
    }
}

/// Finding the uid behind a loopback connection in /proc/net/tcp: the whole connection is matched.
@Suite struct PeerUserTests {
    @Test func addressesArePrintedAsTheKernelDoes() throws {
        let v4 = try SocketAddress(ipAddress: "127.0.0.1", port: 0x1F90)
        #expect(PeerUser.entry(v4) == "0100007F:1F90")
        let v6 = try SocketAddress(ipAddress: "::1", port: 80)
        #expect(PeerUser.entry(v6) == "00000000000000000000000001000000:0050")
        let mapped = try SocketAddress(ipAddress: "::ffff:127.0.0.2", port: 80)
        #expect(PeerUser.entry(mapped) == "0000000000000000FFFF00000200007F:0050")
    }

    /// The owner (uid 1000) holds 127.0.0.1:40000 → the proxy; another user (65534) bound the same
    /// port on 127.0.0.2 and connected too. Its own row must be the one found, whatever the order.
    @Test func aCollidingPortOnAnotherAddressIsNotTakenForTheOwner() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        let owner = "   0: 0100007F:9C40 0100007F:1E61 01 00000000:00000000 00:00000000 00000000  1000        0 11 1 0 20 4 30 10 -1\n"
        let other = "   1: 0200007F:9C40 0100007F:1E61 01 00000000:00000000 00:00000000 00000000 65534        0 12 1 0 20 4 30 10 -1\n"
        for table in [header + owner + other, header + other + owner] {
            #expect(PeerUser.uid(in: table, local: "0200007F:9C40", remote: "0100007F:1E61") == 65534)
            #expect(PeerUser.uid(in: table, local: "0100007F:9C40", remote: "0100007F:1E61") == 1000)
            #expect(PeerUser.uid(in: table, local: "0300007F:9C40", remote: "0100007F:1E61") == nil)
        }
    }
}
