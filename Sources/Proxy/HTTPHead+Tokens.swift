import Foundation

/// The byte-level pieces of head parsing: token characters, field names the proxy acts on, and
/// comparisons that make no strings.
extension HTTPHead {
    static func equalsExactly(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        var k = 0
        for i in range {
            if p[i] != literal.utf8Start[k] { return false }
            k += 1
        }
        return true
    }

    static func kind(_ p: UnsafeRawBufferPointer, _ name: Range<Int>, underscoreAsHyphen u: Bool) -> Kind {
        func equalsIgnoringCase(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString) -> Bool {
            HTTPHead.equalsIgnoringCase(p, range, lower, underscoreAsHyphen: u)
        }
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
        case 18:
            if equalsIgnoringCase(p, name, "x-forwarded-prefix") { return .xForwardedPrefix }
            return equalsIgnoringCase(p, name, "proxy-authenticate") ? .proxyAuthenticate : .other
        case 19: return equalsIgnoringCase(p, name, "proxy-authorization") ? .proxyAuthorization : .other
        default: return .other
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal.
    static func equalsIgnoringCase(
        _ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString, underscoreAsHyphen: Bool = false
    ) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        let literal = lower.utf8Start
        var k = 0
        for i in range {
            var c = p[i]
            if c >= 65, c <= 90 { c |= 0x20 }
            if underscoreAsHyphen, c == 95 { c = 45 }
            if c != literal[k] { return false }
            k += 1
        }
        return true
    }

    static func eachToken(_ p: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void) {
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
}
