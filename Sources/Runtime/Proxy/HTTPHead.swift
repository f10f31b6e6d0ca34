import Foundation
import NIOCore

/// An HTTP/1 request or response head parsed in place. Fields are byte ranges of `bytes`, so the
/// proxy forwards a head by copying the lines it keeps: no strings and no header objects are built
/// for a request on the hot path (the NIO codecs did both, on both legs, and cost more than every
/// syscall of the request together).
struct HTTPHead {
    /// The fields the proxy acts on; everything else is `.other` and passes through untouched.
    enum Kind: UInt8 {
        case other, host, contentLength, transferEncoding, connection, keepAlive, upgrade, te, trailer
        case proxyConnection, proxyAuthenticate, proxyAuthorization
        case forwarded, xForwardedFor, xForwardedHost, xForwardedProto, xRealIP, xRequestID, accept
        /// Not a field: a name listed by `Connection`, recorded after it (see `isNamedByConnection`).
        case connectionToken

        /// RFC 9110 §7.6.1 hop-by-hop fields (the framing ones are handled on their own).
        var isHopByHop: Bool {
            switch self {
            case .connection, .keepAlive, .upgrade, .te, .trailer, .proxyConnection, .proxyAuthenticate, .proxyAuthorization: return true
            default: return false
            }
        }

        /// Forwarding fields a client sends are dropped: devhost sets its own, so none can be spoofed.
        var isForwarding: Bool {
            switch self {
            case .forwarded, .xForwardedFor, .xForwardedHost, .xForwardedProto, .xRealIP, .xRequestID: return true
            default: return false
            }
        }
    }

    struct Field {
        var kind: Kind
        var name: Range<Int>
        var value: Range<Int>
        /// The whole line with its line end, copied as is when the field is kept.
        var line: Range<Int>
    }

    enum Failure: Error {
        case malformed
        case tooLarge
        case targetTooLong
    }

    /// The head's bytes, from the start line to the end of the empty line; ranges index into them.
    var bytes: ByteBuffer
    /// Request: the method and the request target. Response: unused.
    var method: Range<Int> = 0..<0
    var target: Range<Int> = 0..<0
    /// Response: the status code, and where the status line continues after `HTTP/1.x`.
    var status = 0
    var afterVersion = 0
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minor = 1
    var fields: [Field] = []

    // What the fields say, worked out once while parsing.
    var contentLength: Int?
    var chunked = false
    var hasTransferEncoding = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var hasUpgrade = false
    /// `Connection` names other fields, which are hop-by-hop too. The names are kept in `fields` as
    /// `.connectionToken` entries rather than in an array of their own: a head is copied a few
    /// times per request, and each array in it is a reference count to take and drop.
    var hasConnectionTokens = false

    enum Status {
        case incomplete
        case complete
        case failed(Failure)
    }

    /// Parses a head at the start of `buffer` into `head` and moves the reader past it when
    /// complete. `head`'s storage is reused: a connection parses all its heads into two values.
    /// `maxHead` bounds the whole head (431) and `maxTarget` the request target (414).
    static func parse(_ buffer: inout ByteBuffer, into head: inout HTTPHead, isRequest: Bool, maxHead: Int, maxTarget: Int) -> Status {
        // Empty lines before a request are allowed and ignored (RFC 9112 §2.2).
        if isRequest {
            var skip = 0
            buffer.withUnsafeReadableBytes { p in
                while skip < p.count, p[skip] == 13 || p[skip] == 10 { skip += 1 }
            }
            if skip > 0 { buffer.moveReaderIndex(forwardBy: skip) }
        }
        head.reset()
        let result: (Status, Int) = buffer.withUnsafeReadableBytes { p in
            scan(p, into: &head, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
        }
        if case .complete = result.0 { head.bytes = buffer.readSlice(length: result.1)! }
        return result.0
    }

    private mutating func reset() {
        bytes = Self.emptyBytes
        method = 0..<0
        target = 0..<0
        status = 0
        afterVersion = 0
        minor = 1
        fields.removeAll(keepingCapacity: true)
        contentLength = nil
        chunked = false
        hasTransferEncoding = false
        connectionClose = false
        connectionKeepAlive = false
        connectionUpgrade = false
        hasUpgrade = false
        hasConnectionTokens = false
    }

    private static let emptyBytes = ByteBuffer()

    private static func lineEnd(_ p: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while i < p.count {
            if p[i] == 10 { return i }
            i += 1
        }
        return nil
    }

    private static func scan(_ p: UnsafeRawBufferPointer, into head: inout HTTPHead, isRequest: Bool, maxHead: Int, maxTarget: Int) -> (Status, Int) {
        guard let firstLF = lineEnd(p, from: 0) else {
            if isRequest, p.count > maxTarget + 32 { return (.failed(.targetTooLong), 0) }
            return (p.count > maxHead ? .failed(.tooLarge) : .incomplete, 0)
        }
        let firstEnd = firstLF > 0 && p[firstLF - 1] == 13 ? firstLF - 1 : firstLF
        if isRequest {
            guard let line = requestLine(p, end: firstEnd) else { return (.failed(.malformed), 0) }
            (head.method, head.target, head.minor) = line
            if head.target.count > maxTarget { return (.failed(.targetTooLong), 0) }
        } else {
            guard let line = statusLine(p, end: firstEnd) else { return (.failed(.malformed), 0) }
            (head.minor, head.status, head.afterVersion) = line
        }
        var start = firstLF + 1
        if head.fields.capacity < 12 { head.fields.reserveCapacity(12) }
        while true {
            guard let lf = lineEnd(p, from: start) else {
                return (p.count > maxHead ? .failed(.tooLarge) : .incomplete, 0)
            }
            let end = lf > start && p[lf - 1] == 13 ? lf - 1 : lf
            if end == start {
                if lf + 1 > maxHead { return (.failed(.tooLarge), 0) }
                return (.complete, lf + 1)
            }
            guard head.addField(p, start: start, end: end, lineEnd: lf + 1) else { return (.failed(.malformed), 0) }
            start = lf + 1
        }
    }

    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// `HTTP/1.0` or `HTTP/1.1` at `at`: the minor version.
    private static func version(_ p: UnsafeRawBufferPointer, at i: Int) -> Int? {
        guard i + 8 <= p.count, p[i] == 72, p[i + 1] == 84, p[i + 2] == 84, p[i + 3] == 80, p[i + 4] == 47, p[i + 5] == 49, p[i + 6] == 46
        else { return nil }
        switch p[i + 7] {
        case 48: return 0
        case 49: return 1
        default: return nil
        }
    }

    private static func requestLine(_ p: UnsafeRawBufferPointer, end: Int) -> (Range<Int>, Range<Int>, Int)? {
        var i = 0
        while i < end, isTokenByte(p[i]) { i += 1 }
        guard i > 0, i < end, p[i] == 32 else { return nil }
        let method = 0..<i
        i += 1
        let targetStart = i
        while i < end, p[i] > 32, p[i] != 127 { i += 1 }
        guard i > targetStart, i < end, p[i] == 32 else { return nil }
        let target = targetStart..<i
        guard i + 9 == end, let minor = version(p, at: i + 1) else { return nil }
        return (method, target, minor)
    }

    private static func statusLine(_ p: UnsafeRawBufferPointer, end: Int) -> (Int, Int, Int)? {
        guard end >= 12, let minor = version(p, at: 0), p[8] == 32 else { return nil }
        var status = 0
        for i in 9..<12 {
            guard p[i] >= 48, p[i] <= 57 else { return nil }
            status = status * 10 + Int(p[i] - 48)
        }
        guard end == 12 || p[12] == 32 else { return nil }
        return (minor, status, 8)
    }

    private mutating func addField(_ p: UnsafeRawBufferPointer, start: Int, end: Int, lineEnd: Int) -> Bool {
        // A line starting with white space continues the previous one (obs-fold): refused, as
        // RFC 9112 §5.2 allows, since folding is a classic smuggling vector.
        var i = start
        while i < end, Self.isTokenByte(p[i]) { i += 1 }
        guard i > start, i < end, p[i] == 58 else { return false }
        let name = start..<i
        i += 1
        while i < end, p[i] == 32 || p[i] == 9 { i += 1 }
        var valueEnd = end
        while valueEnd > i, p[valueEnd - 1] == 32 || p[valueEnd - 1] == 9 { valueEnd -= 1 }
        for j in i..<valueEnd where p[j] == 0 || p[j] == 13 || p[j] == 10 { return false }
        let value = i..<valueEnd
        let kind = Self.kind(p, name)
        fields.append(Field(kind: kind, name: name, value: value, line: start..<lineEnd))
        switch kind {
        case .contentLength:
            var length = 0
            guard !value.isEmpty, value.count <= 18 else { return false }
            for j in value {
                guard p[j] >= 48, p[j] <= 57 else { return false }
                length = length * 10 + Int(p[j] - 48)
            }
            // Two different lengths make the framing ambiguous (a smuggling vector): refused.
            if let contentLength, contentLength != length { return false }
            contentLength = length
        case .transferEncoding:
            hasTransferEncoding = true
            // Chunked must be the final coding; anything after it means the body is not chunked.
            chunked = Self.lastToken(p, value).map { Self.equalsIgnoringCase(p, $0, "chunked") } ?? false
        case .connection:
            Self.eachToken(p, value) { token in
                if Self.equalsIgnoringCase(p, token, "close") {
                    connectionClose = true
                } else if Self.equalsIgnoringCase(p, token, "keep-alive") {
                    connectionKeepAlive = true
                } else if Self.equalsIgnoringCase(p, token, "upgrade") {
                    connectionUpgrade = true
                } else {
                    fields.append(Field(kind: .connectionToken, name: token, value: token, line: token.lowerBound..<token.lowerBound))
                    hasConnectionTokens = true
                }
            }
        case .upgrade:
            hasUpgrade = true
        default:
            break
        }
        return true
    }

    private static func kind(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> Kind {
        switch name.count {
        case 2: return equalsIgnoringCase(p, name, "te") ? .te : .other
        case 4: return equalsIgnoringCase(p, name, "host") ? .host : .other
        case 6: return equalsIgnoringCase(p, name, "accept") ? .accept : .other
        case 7:
            if equalsIgnoringCase(p, name, "upgrade") { return .upgrade }
            return equalsIgnoringCase(p, name, "trailer") ? .trailer : .other
        case 9:
            if equalsIgnoringCase(p, name, "forwarded") { return .forwarded }
            return equalsIgnoringCase(p, name, "x-real-ip") ? .xRealIP : .other
        case 10:
            if equalsIgnoringCase(p, name, "connection") { return .connection }
            return equalsIgnoringCase(p, name, "keep-alive") ? .keepAlive : .other
        case 12: return equalsIgnoringCase(p, name, "x-request-id") ? .xRequestID : .other
        case 14: return equalsIgnoringCase(p, name, "content-length") ? .contentLength : .other
        case 15: return equalsIgnoringCase(p, name, "x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            if equalsIgnoringCase(p, name, "x-forwarded-host") { return .xForwardedHost }
            return equalsIgnoringCase(p, name, "proxy-connection") ? .proxyConnection : .other
        case 17:
            if equalsIgnoringCase(p, name, "transfer-encoding") { return .transferEncoding }
            return equalsIgnoringCase(p, name, "x-forwarded-proto") ? .xForwardedProto : .other
        case 18: return equalsIgnoringCase(p, name, "proxy-authenticate") ? .proxyAuthenticate : .other
        case 19: return equalsIgnoringCase(p, name, "proxy-authorization") ? .proxyAuthorization : .other
        default: return .other
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal.
    static func equalsIgnoringCase(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        let literal = lower.utf8Start
        var k = 0
        for i in range {
            var c = p[i]
            if c >= 65, c <= 90 { c |= 0x20 }
            if c != literal[k] { return false }
            k += 1
        }
        return true
    }

    private static func eachToken(_ p: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void) {
        var i = value.lowerBound
        while i < value.upperBound {
            while i < value.upperBound, p[i] == 32 || p[i] == 9 || p[i] == 44 { i += 1 }
            let start = i
            while i < value.upperBound, p[i] != 44 { i += 1 }
            var end = i
            while end > start, p[end - 1] == 32 || p[end - 1] == 9 { end -= 1 }
            if end > start { body(start..<end) }
        }
    }

    private static func lastToken(_ p: UnsafeRawBufferPointer, _ value: Range<Int>) -> Range<Int>? {
        var last: Range<Int>?
        eachToken(p, value) { token in
            // `chunked;q=1` is not valid for transfer codings, but a parameter never hides the name.
            var end = token.lowerBound
            while end < token.upperBound, p[end] != 59, p[end] != 32 { end += 1 }
            last = token.lowerBound..<end
        }
        return last
    }

    // MARK: Reading values

    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    func first(_ kind: Kind) -> Field? {
        fields.first { $0.kind == kind }
    }

    func value(_ kind: Kind) -> String? {
        first(kind).map { string($0.value) }
    }

    var methodString: String { string(method) }

    /// Whether `range` holds the same bytes as `other` (no string is made).
    func bytesEqual(_ range: Range<Int>, _ other: [UInt8]) -> Bool {
        guard range.count == other.count else { return false }
        if range.isEmpty { return true }
        return bytes.withUnsafeReadableBytes { p in
            other.withUnsafeBytes { o in memcmp(p.baseAddress! + range.lowerBound, o.baseAddress!, range.count) == 0 }
        }
    }

    func byteArray(_ range: Range<Int>) -> [UInt8] {
        bytes.getBytes(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? []
    }
    var targetString: String { string(target) }

    func methodIs(_ lower: StaticString) -> Bool {
        bytes.withUnsafeReadableBytes { p in
            // Methods are case-sensitive (RFC 9110 §9.1): compared exactly, in upper case.
            guard method.count == lower.utf8CodeUnitCount else { return false }
            let literal = lower.utf8Start
            for (k, i) in method.enumerated() where p[i] != literal[k] { return false }
            return true
        }
    }

    /// HTTP/1.1 stays open unless told otherwise; HTTP/1.0 closes unless asked to keep alive.
    var keepAlive: Bool { minor >= 1 ? !connectionClose : connectionKeepAlive && !connectionClose }

    var isUpgrade: Bool { connectionUpgrade && hasUpgrade }

    var targetStartsWithReservedPrefix: Bool {
        bytes.withUnsafeReadableBytes { p in
            let prefix: StaticString = "/_devhost/"
            guard target.count >= prefix.utf8CodeUnitCount else { return false }
            for k in 0..<prefix.utf8CodeUnitCount where p[target.lowerBound + k] != prefix.utf8Start[k] { return false }
            return true
        }
    }

    /// `Host` holds a host name or address and an optional port, nothing else: its value is copied
    /// into `Forwarded` and `X-Forwarded-Host`, where a quote or a comma could add entries.
    var hostIsValid: Bool {
        guard let value = first(.host)?.value else { return true }
        return bytes.withUnsafeReadableBytes { p in
            value.allSatisfy { i in
                switch p[i] {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
                case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "_"), UInt8(ascii: "%"): return true
                default: return false
                }
            }
        }
    }

    var wantsJSON: Bool {
        fields.contains { $0.kind == .accept && string($0.value).contains("application/json") }
    }

    /// Whether a field named by `Connection` is `field`'s name.
    func isNamedByConnection(_ field: Field) -> Bool {
        guard hasConnectionTokens else { return false }
        return bytes.withUnsafeReadableBytes { p in
            fields.contains { entry in
                let token = entry.name
                return entry.kind == .connectionToken && token.count == field.name.count
                    && zip(token, field.name).allSatisfy { p[$0] | 0x20 == p[$1] | 0x20 }
            }
        }
    }
}
