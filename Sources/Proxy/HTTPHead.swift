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
        case forwarded, xForwardedFor, xForwardedHost, xForwardedProto, xForwardedPrefix, xRealIP, xRequestID, accept
        /// Not a field: a name listed by `Connection`, recorded after it (see `isNamedByConnection`).
        case connectionToken
        /// A name that reads as one of the above once `_` is taken for `-` (`X_Forwarded_For`): CGI
        /// and WSGI servers turn both spellings into the same variable (`HTTP_X_FORWARDED_FOR`), so
        /// the underscore spelling could spoof what devhost sets. Never forwarded.
        case underscored

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
            case .forwarded, .xForwardedFor, .xForwardedHost, .xForwardedProto, .xForwardedPrefix, .xRealIP, .xRequestID: return true
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
        /// More fields, or more `Connection` options, than `maxFields`/`maxConnectionTokens`.
        case tooManyFields
    }

    /// Bounds that keep a head's processing linear: `Connection` options are matched against every
    /// field, so both counts are capped (HAProxy allows 101 fields; browsers send about 20).
    static let maxFields = 100
    static let maxConnectionTokens = 16

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
    /// The host the request names: the authority of an absolute-form target, else the first `Host`.
    var host: Range<Int>?
    var hostCount = 0
    /// The target was absolute-form (`http://host/path`): `target` is now its path and query only.
    var absoluteTarget = false
    /// The target's form, read while parsing (origin `/…`, `*`, or neither), and whether the method
    /// is one the proxy refuses outright: `RequestRefusal` then needs no second look at the bytes.
    var targetIsOriginForm = false
    var targetIsAsterisk = false
    var methodIsConnect = false
    var methodIsTrace = false
    var contentLengthCount = 0
    var transferEncodingCount = 0
    /// Every transfer coding named is `chunked`, exactly once (no parameters, no other coding).
    var chunkedOnly = false
    var fieldCount = 0
    var connectionTokenCount = 0

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
        host = nil
        hostCount = 0
        absoluteTarget = false
        targetIsOriginForm = false
        targetIsAsterisk = false
        methodIsConnect = false
        methodIsTrace = false
        contentLengthCount = 0
        transferEncodingCount = 0
        chunkedOnly = false
        fieldCount = 0
        connectionTokenCount = 0
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

    private static func scan(_ p: UnsafeRawBufferPointer, into head: inout HTTPHead, isRequest: Bool, maxHead: Int, maxTarget: Int) -> (
        Status, Int
    ) {
        guard let firstLF = lineEnd(p, from: 0) else {
            if isRequest, p.count > maxTarget + 32 { return (.failed(.targetTooLong), 0) }
            return (p.count > maxHead ? .failed(.tooLarge) : .incomplete, 0)
        }
        let firstEnd = firstLF > 0 && p[firstLF - 1] == 13 ? firstLF - 1 : firstLF
        if isRequest {
            guard let line = requestLine(p, end: firstEnd) else { return (.failed(.malformed), 0) }
            (head.method, head.target, head.minor) = line
            if head.target.count > maxTarget { return (.failed(.targetTooLong), 0) }
            guard head.splitAbsoluteTarget(p) else { return (.failed(.malformed), 0) }
            head.classifyMethod(p)
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
            if let failure = head.addField(p, start: start, end: end, lineEnd: lf + 1) { return (.failed(failure), 0) }
            start = lf + 1
        }
    }

    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
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

    /// Records one field line; the failure when the line cannot be accepted.
    private mutating func addField(_ p: UnsafeRawBufferPointer, start: Int, end: Int, lineEnd: Int) -> Failure? {
        // A line starting with white space continues the previous one (obs-fold): refused, as
        // RFC 9112 §5.2 allows, since folding is a classic smuggling vector.
        var i = start
        var underscore = false
        while i < end, Self.isTokenByte(p[i]) {
            if p[i] == 95 { underscore = true }
            i += 1
        }
        guard i > start, i < end, p[i] == 58 else { return .malformed }
        fieldCount += 1
        if fieldCount > Self.maxFields { return .tooManyFields }
        let name = start..<i
        i += 1
        while i < end, p[i] == 32 || p[i] == 9 { i += 1 }
        var valueEnd = end
        while valueEnd > i, p[valueEnd - 1] == 32 || p[valueEnd - 1] == 9 { valueEnd -= 1 }
        for j in i..<valueEnd where p[j] == 0 || p[j] == 13 || p[j] == 10 { return .malformed }
        let value = i..<valueEnd
        var kind = Self.kind(p, name, underscoreAsHyphen: false)
        if kind == .other, underscore, Self.kind(p, name, underscoreAsHyphen: true) != .other { kind = .underscored }
        fields.append(Field(kind: kind, name: name, value: value, line: start..<lineEnd))
        switch kind {
        case .host:
            hostCount += 1
            if host == nil { host = value }
        case .contentLength:
            contentLengthCount += 1
            var length = 0
            guard !value.isEmpty, value.count <= 18 else { return .malformed }
            for j in value {
                guard p[j] >= 48, p[j] <= 57 else { return .malformed }
                length = length * 10 + Int(p[j] - 48)
            }
            // Two different lengths make the framing ambiguous (a smuggling vector): refused.
            if let contentLength, contentLength != length { return .malformed }
            contentLength = length
        case .transferEncoding:
            hasTransferEncoding = true
            transferEncodingCount += 1
            // Chunked must be the final coding, exactly (RFC 9112 §7: it takes no parameters); a
            // request is accepted only with `chunked` alone (see `requestRefusal`).
            var count = 0
            var last: Range<Int>?
            Self.eachToken(p, value) { token in
                count += 1
                last = token
            }
            chunked = last.map { Self.equalsIgnoringCase(p, $0, "chunked") } ?? false
            chunkedOnly = transferEncodingCount == 1 && count == 1 && chunked
        case .connection:
            var tooMany = false
            Self.eachToken(p, value) { token in
                if Self.equalsIgnoringCase(p, token, "close") {
                    connectionClose = true
                } else if Self.equalsIgnoringCase(p, token, "keep-alive") {
                    connectionKeepAlive = true
                } else if Self.equalsIgnoringCase(p, token, "upgrade") {
                    connectionUpgrade = true
                } else {
                    connectionTokenCount += 1
                    if connectionTokenCount > Self.maxConnectionTokens {
                        tooMany = true
                        return
                    }
                    fields.append(Field(kind: .connectionToken, name: token, value: token, line: token.lowerBound..<token.lowerBound))
                    hasConnectionTokens = true
                }
            }
            if tooMany { return .tooManyFields }
        case .upgrade:
            hasUpgrade = true
        default:
            break
        }
        return nil
    }

    /// An absolute-form target (`http://authority/path`, RFC 9112 §3.2.2) names the host itself:
    /// the authority becomes the request's host and `target` its origin form (empty for `/`). A
    /// target with user information, or an empty authority, is refused.
    private mutating func splitAbsoluteTarget(_ p: UnsafeRawBufferPointer) -> Bool {
        guard let first = target.first else { return true }
        if p[first] == 47 {
            targetIsOriginForm = true
            return true
        }
        if p[first] == 42 {
            targetIsAsterisk = target.count == 1
            return true
        }
        var i = target.lowerBound
        while i < target.upperBound, p[i] != 58, p[i] != 47 { i += 1 }
        let scheme = target.lowerBound..<i
        guard Self.equalsIgnoringCase(p, scheme, "http") || Self.equalsIgnoringCase(p, scheme, "https") else { return true }
        guard i + 3 <= target.upperBound, p[i] == 58, p[i + 1] == 47, p[i + 2] == 47 else { return false }
        let authorityStart = i + 3
        var end = authorityStart
        while end < target.upperBound, p[end] != 47, p[end] != 63, p[end] != 35 {
            if p[end] == 64 { return false }
            end += 1
        }
        guard end > authorityStart else { return false }
        host = authorityStart..<end
        absoluteTarget = true
        target = end..<target.upperBound
        return true
    }

    /// CONNECT and TRACE, compared exactly (methods are case-sensitive, RFC 9110 §9.1).
    private mutating func classifyMethod(_ p: UnsafeRawBufferPointer) {
        switch method.count {
        case 7: methodIsConnect = Self.equalsExactly(p, method, "CONNECT")
        case 5: methodIsTrace = Self.equalsExactly(p, method, "TRACE")
        default: break
        }
    }
}
