@testable import DevhostProxy
import NIOCore

/// `HTTPHead.parse` on the input as a request and as a response, with the proxy's limits and with
/// limits small enough for the input to reach them. A complete head must describe its own bytes:
/// every range inside the head, field lines back to back from the start line to the empty line,
/// the reader moved by exactly the head (after the empty lines a request may start with), and
/// `Content-Length` the number its digits say. The same input parsed into a used head, in a
/// shorter prefix, or with bytes after it must give the same answer.
enum HeadTarget {
    static let maxHead = 32 * 1024
    static let maxTarget = 8192

    /// A head with every flag set, parsed before each input into the value that is then reused:
    /// whatever `parse` forgets to reset shows as a difference from a fresh parse.
    static let dirty: [UInt8] = Array(
        ("POST http://old.example:81/x HTTP/1.0\r\nHost: a\r\nHost: b\r\nContent-Length: 7\r\nTransfer-Encoding: gzip, chunked\r\n"
            + "Connection: close, keep-alive, upgrade, x-a, x-b\r\nUpgrade: websocket\r\nX_Forwarded_For: 1\r\n\r\n").utf8)

    static func run(_ data: [UInt8]) {
        for isRequest in [true, false] {
            let full = parse(data, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
            verify(data, full, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
            let smallHead = max(1, data.count / 2)
            let smallTarget = data.count / 8
            let small = parse(data, isRequest: isRequest, maxHead: smallHead, maxTarget: smallTarget)
            verify(data, small, isRequest: isRequest, maxHead: smallHead, maxTarget: smallTarget)
            // Lower limits only turn a complete head into a refusal, never into another head.
            if case .complete = small.status {
                check(small.length == full.length, "a head complete under lower limits has another length under the proxy's")
            }
        }
    }

    struct Parsed {
        var status: HTTPHead.Status
        var head: HTTPHead
        /// How far the reader moved; the head's length when complete.
        var moved: Int
        var length: Int
    }

    static func parse(_ data: [UInt8], isRequest: Bool, maxHead: Int, maxTarget: Int, reuse: Bool = false) -> Parsed {
        var head = HTTPHead(bytes: ByteBuffer())
        if reuse {
            var old = ByteBuffer(bytes: dirty)
            _ = HTTPHead.parse(&old, into: &head, isRequest: true, maxHead: maxHead, maxTarget: maxTarget)
        }
        // Not at offset 0 of its storage, as a connection's buffer after a first request.
        var buffer = ByteBuffer(bytes: [0x47, 0x45, 0x54] + data)
        buffer.moveReaderIndex(forwardBy: 3)
        let before = buffer.readerIndex
        let status = HTTPHead.parse(&buffer, into: &head, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
        let length: Int
        if case .complete = status { length = head.bytes.readableBytes } else { length = -1 }
        return Parsed(status: status, head: head, moved: buffer.readerIndex - before, length: length)
    }

    /// What a parse found, the head's storage left out: every stored property, as text. Reflection
    /// covers properties added later too, but it is slow: used for complete heads at the proxy's limits.
    static func summary(_ parsed: Parsed) -> String {
        var text = "\(code(parsed.status)) moved \(parsed.moved)"
        for child in Mirror(reflecting: parsed.head).children where child.label != "bytes" {
            text += " \(child.label ?? "?")=\(child.value)"
        }
        if case .complete = parsed.status { text += " bytes=\(Array(parsed.head.bytes.readableBytesView))" }
        return text
    }

    static func code(_ status: HTTPHead.Status) -> Int {
        switch status {
        case .incomplete: return 0
        case .complete: return 1
        case .failed(.malformed): return 2
        case .failed(.tooLarge): return 3
        case .failed(.targetTooLong): return 4
        case .failed(.tooManyFields): return 5
        default: return 9  // a failure added later
        }
    }

    /// The same answer, compared by hand (fast): status, length, start line, fields and what they say.
    static func same(_ a: Parsed, _ b: Parsed) -> Bool {
        guard code(a.status) == code(b.status), a.moved == b.moved, a.length == b.length else { return false }
        let x = a.head
        let y = b.head
        guard x.method == y.method, x.target == y.target, x.status == y.status, x.minor == y.minor, x.fields.count == y.fields.count,
            x.contentLength == y.contentLength, x.chunked == y.chunked, x.hasTransferEncoding == y.hasTransferEncoding,
            x.connectionClose == y.connectionClose, x.connectionKeepAlive == y.connectionKeepAlive,
            x.connectionUpgrade == y.connectionUpgrade, x.hasUpgrade == y.hasUpgrade, x.host == y.host, x.hostCount == y.hostCount,
            x.absoluteTarget == y.absoluteTarget, x.chunkedOnly == y.chunkedOnly, x.fieldCount == y.fieldCount
        else { return false }
        for (f, g) in zip(x.fields, y.fields) where f.kind != g.kind || f.name != g.name || f.value != g.value || f.line != g.line {
            return false
        }
        return true
    }

    static func verify(_ data: [UInt8], _ parsed: Parsed, isRequest: Bool, maxHead: Int, maxTarget: Int) {
        var skip = 0
        if isRequest { while skip < data.count, data[skip] == 13 || data[skip] == 10 { skip += 1 } }

        // A head that held something else before parses the same as a fresh one.
        let reused = parse(data, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget, reuse: true)
        check(same(reused, parsed), "a reused head parses differently from a fresh one")
        if case .complete = parsed.status, maxHead == Self.maxHead {
            check(summary(reused) == summary(parsed), "a reused head parses differently from a fresh one: \(summary(reused)) / \(summary(parsed))")
        }

        guard case .complete = parsed.status else {
            // Nothing consumed but the empty lines before a request.
            check(parsed.moved == skip, "an incomplete or refused head moved the reader by \(parsed.moved), not \(skip)")
            if case .incomplete = parsed.status {
                check(data.count - skip <= maxHead, "incomplete past maxHead (\(data.count - skip) > \(maxHead))")
            }
            return
        }
        let head = parsed.head
        let length = parsed.length
        check(parsed.moved == skip + length, "the reader moved \(parsed.moved), the head is \(length) after \(skip) skipped")
        check(length <= maxHead, "a complete head of \(length) bytes is over maxHead \(maxHead)")
        let h = Array(data[skip..<(skip + length)])
        check(Array(head.bytes.readableBytesView) == h, "the head's bytes are not the input's")
        check(h.last == 10, "the head does not end with a line feed")

        // The start line.
        guard let firstLF = h.firstIndex(of: 10) else { return check(false, "a complete head without a line feed") }
        let firstEnd = firstLF > 0 && h[firstLF - 1] == 13 ? firstLF - 1 : firstLF
        check([0, 1].contains(head.minor), "HTTP/1.\(head.minor)")
        if isRequest {
            check(head.method.lowerBound == 0 && !head.method.isEmpty, "method range \(head.method)")
            check(head.method.allSatisfy { HTTPHead.isTokenByte(h[$0]) }, "a method byte is not a token byte")
            check(h[head.method.upperBound] == 32, "the method is not followed by a space")
            check(head.target.upperBound <= firstEnd - 9, "target \(head.target) runs into the version (line ends at \(firstEnd))")
            check(head.target.lowerBound >= head.method.upperBound + 1, "target \(head.target) overlaps the method")
            if !head.absoluteTarget {
                check(head.target.lowerBound == head.method.upperBound + 1 && !head.target.isEmpty, "origin-form target \(head.target)")
            }
            check(head.target.count <= maxTarget, "target of \(head.target.count) bytes over maxTarget \(maxTarget)")
            check(h[firstEnd - 1] == UInt8(ascii: "0") + UInt8(head.minor), "the minor version is not the start line's")
            if let host = head.host { check(host.upperBound <= length, "host range \(host) outside the head") }
        } else {
            check(firstEnd >= 12, "a status line of \(firstEnd) bytes")
            let digits = h[9..<12].reduce(0) { $0 * 10 + Int($1) - 48 }
            check(head.status == digits, "status \(head.status), the line says \(digits)")
            check(h[7] == UInt8(ascii: "0") + UInt8(head.minor), "the minor version is not the status line's")
        }

        // Field lines, back to back from the start line to the empty line.
        var next = firstLF + 1
        var lines = 0
        var hosts = 0
        var lengths: [Int] = []
        var connectionValue: Range<Int>?
        var tokens = 0
        for field in head.fields {
            if field.kind == .connectionToken {
                tokens += 1
                guard let value = connectionValue else { return check(false, "a Connection option before any Connection field") }
                check(field.name == field.value && field.line.isEmpty, "a Connection option's ranges")
                check(value.lowerBound <= field.name.lowerBound && field.name.upperBound <= value.upperBound, "an option outside its Connection value")
                check(!field.name.isEmpty, "an empty Connection option")
                continue
            }
            lines += 1
            let line = field.line
            check(line.lowerBound == next, "field line at \(line.lowerBound), expected \(next)")
            check(line.upperBound <= length && line.upperBound > line.lowerBound && h[line.upperBound - 1] == 10, "field line \(line)")
            check(field.name.lowerBound == line.lowerBound && !field.name.isEmpty, "field name \(field.name) in line \(line)")
            check(field.name.allSatisfy { HTTPHead.isTokenByte(h[$0]) } && h[field.name.upperBound] == 58, "field name bytes")
            check(field.value.lowerBound > field.name.upperBound && field.value.upperBound < line.upperBound, "field value \(field.value)")
            check(!field.value.contains { [0, 10, 13].contains(h[$0]) }, "NUL, CR or LF in a field value")
            if let first = field.value.first, let last = field.value.last {
                check(![9, 32].contains(h[first]) && ![9, 32].contains(h[last]), "white space left around a field value")
            }
            let name = String(decoding: h[field.name], as: UTF8.self).lowercased()
            // The framing fields are recognised in any case, and nothing else is taken for them.
            check((name == "content-length") == (field.kind == .contentLength), "\(name) read as \(field.kind)")
            check((name == "transfer-encoding") == (field.kind == .transferEncoding), "\(name) read as \(field.kind)")
            check((name == "host") == (field.kind == .host), "\(name) read as \(field.kind)")
            switch field.kind {
            case .host: hosts += 1
            case .contentLength:
                let digits = h[field.value]
                check(!digits.isEmpty && digits.allSatisfy { (48...57).contains($0) }, "Content-Length accepted with \(Array(digits))")
                lengths.append(digits.reduce(0) { $0 * 10 + Int($1) - 48 })
            case .connection: connectionValue = field.value
            default: break
            }
            next = line.upperBound
        }
        let rest = length - next
        check(rest == 1 && h[next] == 10 || rest == 2 && h[next] == 13 && h[next + 1] == 10, "\(rest) bytes between the last field and the end")
        check(lines <= HTTPHead.maxFields && tokens <= HTTPHead.maxConnectionTokens, "\(lines) fields, \(tokens) Connection options")
        check(hosts == head.hostCount, "hostCount \(head.hostCount), \(hosts) Host fields")
        check(lengths.count == head.contentLengthCount, "contentLengthCount \(head.contentLengthCount), \(lengths.count) fields")
        check(head.contentLength == lengths.first, "contentLength \(String(describing: head.contentLength)), the digits say \(lengths)")
        check(Set(lengths).count <= 1, "two different Content-Length values accepted: \(lengths)")
        check(head.hasTransferEncoding == head.fields.contains { $0.kind == .transferEncoding }, "hasTransferEncoding")

        // The readers the proxy uses on a head.
        _ = head.methodString
        _ = head.targetString
        _ = head.keepAlive
        _ = head.isUpgrade
        _ = head.wantsJSON
        _ = head.targetStartsWithReservedPrefix
        for field in head.fields where field.kind != .connectionToken {
            _ = head.isNamedByConnection(field)
            _ = head.string(field.value)
        }
        if isRequest {
            // What the proxy does not refuse, it can frame.
            for allowTrace in [false, true] where RequestRefusal.check(head, allowTrace: allowTrace) == nil {
                check(BodyFraming.request(head) != nil, "a request passes RequestRefusal but has no body framing")
            }
        } else {
            _ = BodyFraming.response(head, toHEAD: false)
        }

        // Bytes after the head change nothing.
        let longer = parse(data + [71, 69, 84, 32, 10], isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
        check(same(longer, parsed), "bytes after a complete head changed the parse")
        // A prefix is never complete: it waits for more, or refuses a first line already too long.
        var random = SplitMix(data)
        for cut in [skip + length - 1, skip + random.below(length)] {
            let prefix = Array(data[..<cut])
            let early = parse(prefix, isRequest: isRequest, maxHead: maxHead, maxTarget: maxTarget)
            switch early.status {
            case .incomplete: break
            case .failed(.targetTooLong) where isRequest && !prefix[skip...].contains(10): break
            default: check(false, "a prefix of \(cut) bytes of a complete head gives status \(code(early.status))")
            }
        }
    }
}
