import NIOCore

/// Where a message body ends (RFC 9112 §6). Bodies are forwarded as the bytes that arrived, framing
/// included, so the proxy only has to know where each one stops.
enum BodyFraming {
    case none
    case length(Int)
    case chunked(ChunkedScanner)
    /// A response without a length: it ends when the upstream closes.
    case untilClose

    var isDone: Bool {
        switch self {
        case .none: return true
        case .length(let remaining): return remaining == 0
        case .chunked(let scanner): return scanner.isDone
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
        }
    }

    /// A request's body framing; nil when it is ambiguous or unsupported (answered with 400).
    static func request(_ head: HTTPHead) -> BodyFraming? {
        if head.hasTransferEncoding {
            // Transfer-Encoding with Content-Length, or without chunked last, cannot be framed safely.
            guard head.chunked, head.contentLength == nil else { return nil }
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
/// trailers. It never copies; it only says how many bytes belong to the body.
struct ChunkedScanner {
    private enum State {
        case size, extensions, sizeLF, data(Int), dataCR, dataLF, trailerStart, trailerLine, trailerLF, finalLF, done
    }

    private var state = State.size
    private var size = 0
    private var digits = 0

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// How many bytes of `p` belong to the body (all of them unless it ends inside), or nil when the
    /// framing is malformed. Every line must end in CRLF: the bytes go upstream as they are, so a
    /// lenient reading here (a bare LF) could end a body where the upstream does not.
    mutating func scan(_ p: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i < p.count {
            switch state {
            case .done:
                return i
            case .data(let remaining):
                let count = min(remaining, p.count - i)
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
                } else if c == 59 || c == 32 || c == 9 {
                    state = .extensions
                } else if c == 13 {
                    state = .sizeLF
                } else {
                    return nil
                }
            case .extensions:
                if c == 13 {
                    state = .sizeLF
                } else if c == 10 || c == 0 {
                    return nil
                }
            case .sizeLF:
                guard c == 10, digits > 0 else { return nil }
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
                if c == 13 {
                    state = .finalLF
                } else if c == 10 {
                    return nil
                } else {
                    state = .trailerLine
                }
            case .trailerLine:
                if c == 13 {
                    state = .trailerLF
                } else if c == 10 {
                    return nil
                }
            case .trailerLF:
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
