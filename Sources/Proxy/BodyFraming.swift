import NIOCore

/// Where a message body ends (RFC 9112 §6). Bodies are forwarded as the bytes that arrived, framing
/// included, so the proxy only has to know where each one stops.
enum BodyFraming {
    case none
    case length(Int)
    case chunked(ChunkedScanner)
    /// Chunked on the way in, plain data on the way out: for an HTTP/1.0 client, which cannot
    /// read chunked framing (the response then ends with the connection).
    case dechunked(ChunkedScanner)
    /// A response without a length: it ends when the upstream closes.
    case untilClose

    var isDone: Bool {
        switch self {
        case .none: return true
        case .length(let remaining): return remaining == 0
        case .chunked(let scanner), .dechunked(let scanner): return scanner.isDone
        case .untilClose: return false
        }
    }

    /// Takes the part of `buffer` that belongs to this body (nil when the chunked framing is broken).
    mutating func take(from buffer: inout ByteBuffer) -> ByteBuffer?? {
        switch self {
        case .none:
            return .some(nil)
        case .untilClose:
            return buffer.readSlice(length: buffer.readableBytes)
        case .length(let remaining):
            let count = min(remaining, buffer.readableBytes)
            self = .length(remaining - count)
            return count == 0 ? .some(nil) : buffer.readSlice(length: count)
        case .chunked(var scanner):
            let count = buffer.withUnsafeReadableBytes { scanner.scan($0) }
            self = .chunked(scanner)
            guard let count else { return nil }
            return count == 0 ? .some(nil) : buffer.readSlice(length: count)
        case .dechunked(var scanner):
            var data: [Range<Int>] = []
            let count = buffer.withUnsafeReadableBytes { scanner.scan($0) { data.append($0) } }
            self = .dechunked(scanner)
            guard let count else { return nil }
            guard let taken = buffer.readSlice(length: count), !data.isEmpty else { return .some(nil) }
            if data.count == 1 { return taken.getSlice(at: taken.readerIndex + data[0].lowerBound, length: data[0].count) }
            var out = ByteBuffer()
            for range in data { out.writeImmutableBuffer(taken.getSlice(at: taken.readerIndex + range.lowerBound, length: range.count)!) }
            return out
        }
    }

    /// A request's body framing; nil when it is ambiguous or unsupported (`RequestRefusal` answers
    /// those first, with their reasons).
    static func request(_ head: HTTPHead) -> BodyFraming? {
        if head.hasTransferEncoding {
            guard head.chunkedOnly, head.contentLength == nil, head.minor >= 1 else { return nil }
            return .chunked(ChunkedScanner())
        }
        if let length = head.contentLength, length > 0 { return .length(length) }
        return BodyFraming.none
    }

    /// A response's body framing, given the request it answers.
    static func response(_ head: HTTPHead, toHEAD: Bool) -> BodyFraming {
        if toHEAD || head.status == 204 || head.status == 304 || head.status < 200 { return .none }
        if head.hasTransferEncoding { return head.chunked ? .chunked(ChunkedScanner()) : .untilClose }
        if let length = head.contentLength { return length == 0 ? .none : .length(length) }
        return .untilClose
    }
}

/// Follows chunked framing through the bytes as they pass: chunk sizes, data, the last chunk and
/// trailers. It never copies; it only says how many bytes belong to the body (and, for
/// de-chunking, where the data is).
///
/// The bytes go on as they came, so the reading is strict: a line two servers could read
/// differently is refused, never passed on. Every line ends in CRLF (a bare LF could end a body
/// where the upstream does not); white space after a size only before an extension (`1 0` and
/// `5 ` are refused); extensions are `;name[=token|"quoted"]`, closed quotes, at most
/// `maxExtension` bytes a line; trailer lines are field lines (`name: value`), at most
/// `maxTrailers` bytes in all (a request hidden in a trailer section is refused).
struct ChunkedScanner {
    static let maxExtension = 4096
    static let maxTrailers = 16 * 1024

    private enum State {
        case size, sizeSpace, extensions, quoted, quotedEscape, sizeLF
        case data(Int)
        case dataCR, dataLF
        case trailerStart, trailerName, trailerValue, trailerLF, finalLF, done
    }

    private var state = State.size
    private var size = 0
    private var digits = 0
    /// Extension bytes on the current size line, or trailer bytes so far.
    private var extra = 0

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// How many bytes of `p` belong to the body (all of them unless it ends inside), or nil when the
    /// framing is malformed. `data` is told where chunk data lies, for de-chunking.
    mutating func scan(_ p: UnsafeRawBufferPointer, data: ((Range<Int>) -> Void)? = nil) -> Int? {
        var i = 0
        while i < p.count {
            switch state {
            case .done:
                return i
            case .data(let remaining):
                let count = min(remaining, p.count - i)
                data?(i..<(i + count))
                i += count
                state = remaining == count ? .dataCR : .data(remaining - count)
                continue
            default:
                break
            }
            let c = p[i]
            i += 1
            switch state {
            case .size:
                if let digit = Self.hex(c) {
                    guard digits < 15 else { return nil }
                    size = size * 16 + digit
                    digits += 1
                } else if c == 59, digits > 0 {
                    state = .extensions
                    extra = 0
                } else if c == 32 || c == 9, digits > 0 {
                    state = .sizeSpace
                } else if c == 13 {
                    state = .sizeLF
                } else {
                    return nil
                }
            case .sizeSpace:
                if c == 59 {
                    state = .extensions
                    extra = 0
                } else if c != 32, c != 9 {
                    return nil
                }
            case .extensions:
                extra += 1
                guard extra <= Self.maxExtension else { return nil }
                if c == 13 {
                    state = .sizeLF
                } else if c == 34 {
                    state = .quoted
                } else if !(HTTPHead.isTokenByte(c) || c == 59 || c == 61 || c == 32 || c == 9) {
                    return nil
                }
            case .quoted:
                extra += 1
                guard extra <= Self.maxExtension else { return nil }
                if c == 34 {
                    state = .extensions
                } else if c == 92 {
                    state = .quotedEscape
                } else if (c < 32 && c != 9) || c == 127 {
                    return nil
                }
            case .quotedEscape:
                extra += 1
                guard extra <= Self.maxExtension, c >= 32 || c == 9, c != 127 else { return nil }
                state = .quoted
            case .sizeLF:
                guard c == 10, digits > 0 else { return nil }
                extra = 0
                state = size == 0 ? .trailerStart : .data(size)
            case .dataCR:
                guard c == 13 else { return nil }
                state = .dataLF
            case .dataLF:
                guard c == 10 else { return nil }
                state = .size
                size = 0
                digits = 0
            case .trailerStart:
                extra += 1
                guard extra <= Self.maxTrailers else { return nil }
                if c == 13 {
                    state = .finalLF
                } else if HTTPHead.isTokenByte(c) {
                    state = .trailerName
                } else {
                    return nil
                }
            case .trailerName:
                extra += 1
                guard extra <= Self.maxTrailers else { return nil }
                if c == 58 {
                    state = .trailerValue
                } else if !HTTPHead.isTokenByte(c) {
                    return nil
                }
            case .trailerValue:
                extra += 1
                guard extra <= Self.maxTrailers else { return nil }
                if c == 13 {
                    state = .trailerLF
                } else if (c < 32 && c != 9) || c == 127 {
                    return nil
                }
            case .trailerLF:
                extra += 1
                guard extra <= Self.maxTrailers else { return nil }
                guard c == 10 else { return nil }
                state = .trailerStart
            case .finalLF:
                guard c == 10 else { return nil }
                state = .done
            case .data, .done:
                break
            }
        }
        return i
    }

    private static func hex(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }
}
