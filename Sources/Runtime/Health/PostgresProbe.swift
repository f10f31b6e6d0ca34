import NIOCore

/// The PostgreSQL health check: a StartupMessage (protocol 3.0) and the server's first answers.
/// Asking for a password means the server is up and accepting connections; "trust" authentication
/// goes on to ReadyForQuery; an ErrorResponse says why not, and 57P03 is the server still starting up
/// (or recovering), which pg_isready also reports as not ready.
enum PostgresProbe {
    static func startupMessage(user: String, database: String) -> [UInt8] {
        var body: [UInt8] = [0, 3, 0, 0]  // protocol 3.0
        for (key, value) in [("user", user), ("database", database), ("application_name", "devhost-health")] {
            body += Array(key.utf8) + [0] + Array(value.utf8) + [0]
        }
        body.append(0)
        return bigEndian(UInt32(body.count + 4)) + body
    }

    /// Terminate ('X'): a clean goodbye once the server said ReadyForQuery, so it logs no broken connection.
    static let terminate: [UInt8] = [UInt8(ascii: "X"), 0, 0, 0, 4]

    struct Message: Equatable {
        var type: UInt8
        var body: ByteBuffer
    }

    /// Backend messages that may come before ReadyForQuery.
    private static let startupTypes = Set("REZSKNv".utf8)

    /// One backend message (type byte, length counting itself, body), or nil until it has all arrived.
    static func frame(_ buffer: inout ByteBuffer) throws -> Message? {
        guard let type = buffer.peekInteger(at: 0, as: UInt8.self) else { return nil }
        guard startupTypes.contains(type) else {
            throw WireError.garbage("answered \(describeByte(type)), not a PostgreSQL message")
        }
        guard let length = buffer.peekInteger(at: 1, as: UInt32.self) else { return nil }
        guard length >= 4, length < WireSession.limit else {
            throw WireError.garbage("sent a PostgreSQL message of impossible length \(length)")
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let body = buffer.readSlice(length: Int(length) - 4)!
        return Message(type: type, body: body)
    }

    /// Reads the answers to the startup message up to the first that decides.
    static func conversation(user: String, database: String) -> @Sendable (inout WireSession) async throws -> ProbeOutcome {
        { session in
            try await session.send(startupMessage(user: user, database: database))
            while true {
                var message = try await session.receive(frame)
                switch message.type {
                case UInt8(ascii: "R"):
                    guard let code = message.body.readInteger(as: UInt32.self) else {
                        throw WireError.garbage("sent an authentication request without its code")
                    }
                    // 0 is AuthenticationOk: the session goes on to ReadyForQuery or an error.
                    if code != 0 { return .healthy("accepting connections (asks for \(authentication(code)) authentication)") }
                case UInt8(ascii: "E"):
                    let fields = errorFields(message.body)
                    let state = fields["C"] ?? "?????"
                    let text = fields["M"] ?? "an error without a message"
                    if state == "57P03" { return .unhealthy("not accepting connections yet: \(text) (57P03)") }
                    return .unhealthy("refused \(user)@\(database): \(text) (\(state))")
                case UInt8(ascii: "Z"):
                    try? await session.send(terminate)
                    return .healthy("ready for queries as \(user)@\(database)")
                default:
                    continue  // ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion
                }
            }
        }
    }

    /// ErrorResponse fields by their one-letter code (S severity, C SQLSTATE, M message).
    static func errorFields(_ body: ByteBuffer) -> [Character: String] {
        var body = body
        var fields: [Character: String] = [:]
        while let code = body.readInteger(as: UInt8.self), code != 0, let value = body.readCString() {
            fields[Character(Unicode.Scalar(code))] = value
        }
        return fields
    }

    static func authentication(_ code: UInt32) -> String {
        switch code {
        case 2: return "Kerberos"
        case 3: return "password"
        case 5: return "MD5 password"
        case 7, 8: return "GSSAPI"
        case 9: return "SSPI"
        case 10: return "SASL (SCRAM)"
        default: return "method \(code)"
        }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}

/// A byte as a reader would want to see it: the character when printable, hex otherwise.
func describeByte(_ byte: UInt8) -> String {
    (0x21..<0x7f).contains(byte) ? "\"\(Character(Unicode.Scalar(byte)))\"" : "0x" + String(byte, radix: 16)
}
