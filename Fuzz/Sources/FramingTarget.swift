@testable import DevhostProxy
import NIOCore

/// `BodyFraming` fed a body whole, byte by byte and cut at random points: the verdict (done, still
/// open, malformed), the bytes it consumed and the bytes it handed on must not depend on how the
/// body arrived. A chunked body the scanner accepts must read the same to a plain chunked decoder
/// (same end, same data): a difference is a body two HTTP readers would end in different places.
///
/// The first byte picks the mode (its low two bits; seeds use letters): `@` a request head and its
/// body, `A` a response head and its body (`E`: the answer to a HEAD request), `B` a chunked body
/// alone, `C` a chunked body alone de-chunked (for an HTTP/1.0 client).
enum FramingTarget {
    static func run(_ data: [UInt8]) {
        guard let mode = data.first else { return }
        let rest = Array(data.dropFirst())
        let framing: BodyFraming
        let body: [UInt8]
        switch mode & 3 {
        case 0, 1:
            let isRequest = mode & 3 == 0
            var buffer = ByteBuffer(bytes: rest)
            var head = HTTPHead(bytes: ByteBuffer())
            guard case .complete = HTTPHead.parse(&buffer, into: &head, isRequest: isRequest, maxHead: 32 * 1024, maxTarget: 8192)
            else { return }
            if isRequest {
                guard let request = BodyFraming.request(head) else { return }
                framing = request
                if head.hasTransferEncoding {
                    guard case .chunked = framing else { return check(false, "a request with Transfer-Encoding framed as \(framing)") }
                }
            } else {
                framing = BodyFraming.response(head, toHEAD: mode & 4 != 0)
            }
            if case .length(let length) = framing {
                check(length > 0 && length == head.contentLength, "framed as length \(length), Content-Length is \(String(describing: head.contentLength))")
            }
            body = Array(buffer.readableBytesView)
        case 2:
            framing = .chunked(ChunkedScanner())
            body = rest
        default:
            framing = .dechunked(ChunkedScanner())
            body = rest
        }

        let whole = feed(framing, body, cuts: [])
        check(whole.consumed <= body.count, "consumed \(whole.consumed) of \(body.count) bytes")
        switch framing {
        case .none:
            check(whole.verdict == .done && whole.consumed == 0, "no body, but \(whole)")
        case .length(let length):
            check(whole.consumed == min(length, body.count), "length \(length) of \(body.count) bytes consumed \(whole.consumed)")
            check((whole.verdict == .done) == (body.count >= length), "length \(length) of \(body.count) bytes: \(whole.verdict)")
        case .untilClose:
            check(whole.verdict == .open && whole.consumed == body.count, "a body until close: \(whole.verdict), \(whole.consumed)")
        case .chunked, .dechunked:
            if whole.verdict == .open { check(whole.consumed == body.count, "an open chunked body left bytes behind") }
        }
        var passthrough = true
        if case .dechunked = framing { passthrough = false }
        if passthrough, whole.verdict != .malformed {
            check(whole.output == Array(body[..<whole.consumed]), "the bytes handed on are not the bytes consumed")
        }

        // The chunked scanner, both ways, agrees with a plain decoder and with itself.
        if case .chunked = framing {
            compareChunked(body, whole, dechunked: feed(.dechunked(ChunkedScanner()), body, cuts: []))
        } else if case .dechunked = framing {
            compareChunked(body, feed(.chunked(ChunkedScanner()), body, cuts: []), dechunked: whole)
        }

        // However the bytes arrive, the answer is the same.
        if body.count <= 2048 {
            same(whole, feed(framing, body, cuts: Array(0..<body.count)), "fed byte by byte")
        }
        var random = SplitMix(data)
        for _ in 0..<4 where !body.isEmpty {
            let cuts = (0..<(1 + random.below(8))).map { _ in random.below(body.count + 1) }.sorted()
            same(whole, feed(framing, body, cuts: cuts), "cut at \(cuts)")
        }
    }

    enum Verdict { case done, open, malformed }

    struct Outcome: CustomStringConvertible {
        var verdict: Verdict
        var consumed: Int
        var output: [UInt8]
        var description: String { "\(verdict) after \(consumed) bytes, \(output.count) handed on" }
    }

    /// Feeds `body` in pieces ending at `cuts`, as reads arrive on a connection: what one read
    /// leaves in the buffer is still there, in front of the next.
    static func feed(_ start: BodyFraming, _ body: [UInt8], cuts: [Int]) -> Outcome {
        var framing = start
        var output: [UInt8] = []
        var consumed = 0
        // Junk in front of the reader, as in a connection's buffer after a head was read from it.
        var pending = ByteBuffer(bytes: [72, 84, 84, 80])
        pending.moveReaderIndex(forwardBy: 4)
        var from = 0
        for end in cuts + [body.count] where end >= from {
            pending.writeBytes(body[from..<end])
            from = end
            if framing.isDone { break }
            let before = pending.readableBytes
            guard let taken = framing.take(from: &pending) else { return Outcome(verdict: .malformed, consumed: consumed, output: output) }
            let used = before - pending.readableBytes
            check(used >= 0 && used <= before, "take consumed \(used) of \(before) bytes")
            if let taken {
                check(taken.readableBytes <= used, "took \(used) bytes and handed on \(taken.readableBytes)")
                output += taken.readableBytesView
            }
            consumed += used
            if framing.isDone { break }
            if case .untilClose = framing {} else if case .length = framing {} else {
                check(pending.readableBytes == 0, "an unfinished chunked body left \(pending.readableBytes) bytes of a read")
            }
        }
        return Outcome(verdict: framing.isDone ? .done : .open, consumed: consumed, output: output)
    }

    static func same(_ whole: Outcome, _ split: Outcome, _ how: String) {
        check(whole.verdict == split.verdict, "whole: \(whole); \(how): \(split)")
        if whole.verdict != .malformed {
            check(whole.consumed == split.consumed && whole.output == split.output, "whole: \(whole); \(how): \(split)")
        }
    }

    static func compareChunked(_ body: [UInt8], _ chunked: Outcome, dechunked: Outcome) {
        check(chunked.verdict == dechunked.verdict, "chunked: \(chunked); de-chunked: \(dechunked)")
        guard chunked.verdict != .malformed else { return }
        check(chunked.consumed == dechunked.consumed, "chunked: \(chunked); de-chunked: \(dechunked)")
        guard chunked.verdict == .done else { return }
        guard let plain = plainDecode(Array(body[..<chunked.consumed])) else {
            return check(false, "the scanner accepted a chunked body of \(chunked.consumed) bytes a plain decoder refuses")
        }
        check(plain.length == chunked.consumed, "the scanner ends the body after \(chunked.consumed) bytes, a plain decoder after \(plain.length)")
        check(plain.data == dechunked.output, "de-chunked data differs from a plain decoder's")
    }

    /// A plain chunked decoder (RFC 9112 §7.1), lenient about what a line holds but not about CRLF:
    /// size in hex, anything up to CRLF, data, CRLF; after the last chunk, lines up to an empty one.
    static func plainDecode(_ b: [UInt8]) -> (length: Int, data: [UInt8])? {
        var i = 0
        var data: [UInt8] = []
        func lineEnd(from start: Int) -> Int? {
            guard let lf = b[start...].firstIndex(of: 10), lf > start, b[lf - 1] == 13 else { return nil }
            if b[start..<(lf - 1)].contains(13) { return nil }
            return lf
        }
        while true {
            var size = 0
            var digits = 0
            while i < b.count, let digit = hexDigit(b[i]) {
                guard digits < 15 else { return nil }
                size = size * 16 + digit
                digits += 1
                i += 1
            }
            guard digits > 0, let lf = lineEnd(from: i) else { return nil }
            i = lf + 1
            if size == 0 { break }
            guard i + size + 2 <= b.count, b[i + size] == 13, b[i + size + 1] == 10 else { return nil }
            data += b[i..<(i + size)]
            i += size + 2
        }
        while true {
            guard i < b.count, let lf = lineEnd(from: i) else { return nil }
            let empty = lf == i + 1
            i = lf + 1
            if empty { return (i, data) }
        }
    }

    static func hexDigit(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }
}
