import NIOCore

/// The Redis health check: `PING` answered by `+PONG`, after `AUTH` when a password is given.
/// A server still loading its dataset answers `-LOADING`, one that wants a password `-NOAUTH`: both
/// are unhealthy, with the server's own words as the detail.
enum RedisProbe {
    /// A command as a RESP array of bulk strings, which every Redis version accepts.
    static func command(_ words: [String]) -> [UInt8] {
        var bytes = Array("*\(words.count)\r\n".utf8)
        for word in words {
            let utf8 = Array(word.utf8)
            bytes += Array("$\(utf8.count)\r\n".utf8) + utf8 + Array("\r\n".utf8)
        }
        return bytes
    }

    enum Reply: Equatable {
        case simple(String)
        case error(String)
        /// An integer, bulk string, array or RESP3 type: well-formed, but not what PING or AUTH answer.
        case other(UInt8)
    }

    /// One reply line, or nil until its CRLF arrived. Only the first line is read: PING and AUTH
    /// answer with simple strings or errors, and anything else ends the probe.
    static func frame(_ buffer: inout ByteBuffer) throws -> Reply? {
        guard let type = buffer.peekInteger(at: 0, as: UInt8.self) else { return nil }
        guard Set("+-:$*_#,(!=%~>|".utf8).contains(type) else {
            throw WireError.garbage("answered \(describeByte(type)), not a RESP reply")
        }
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > 4096 { throw WireError.garbage("sent a 4 KiB line without an end") }
            return nil
        }
        guard newline > view.startIndex, view[newline - 1] == UInt8(ascii: "\r") else {
            throw WireError.garbage("ended a reply line without CRLF")
        }
        let line = String(decoding: view[(view.startIndex + 1)..<(newline - 1)], as: UTF8.self)
        buffer.moveReaderIndex(to: newline + 1)
        switch type {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        default: return .other(type)
        }
    }

    static func conversation(user: String?, password: String?) -> @Sendable (inout WireSession) async throws -> ProbeOutcome {
        { session in
            var request: [UInt8] = []
            if let password { request += command(["AUTH"] + (user.map { [$0] } ?? []) + [password]) }
            request += command(["PING"])
            // Pipelined: Redis answers in order, so one round trip covers both.
            try await session.send(request)
            if password != nil {
                switch try await session.receive(frame) {
                case .simple("OK"): break
                case .error(let text): return .unhealthy("AUTH refused: \(text)")
                case let reply: return .unhealthy("AUTH answered \(describe(reply)), expected +OK")
                }
            }
            switch try await session.receive(frame) {
            case .simple("PONG"): return .healthy("PONG")
            case .error(let text): return .unhealthy("PING answered -\(text)")
            case let reply: return .unhealthy("PING answered \(describe(reply)), expected +PONG")
            }
        }
    }

    private static func describe(_ reply: Reply) -> String {
        switch reply {
        case .simple(let text): return "+\(text)"
        case .error(let text): return "-\(text)"
        case .other(let type): return "a \(describeByte(type)) reply"
        }
    }
}
