import NIOCore

/// The MySQL/MariaDB health check: the server speaks first, with a protocol 10 handshake packet (an
/// error packet instead means it refuses, e.g. "Too many connections"). The probe then answers with a
/// login as `devhost-health` and no password and reads the verdict: a connection dropped mid-handshake
/// counts against `max_connect_errors` and, repeated every second, would get the prober's host
/// blocked; a refused login does not (HAProxy's mysql-check completes the handshake for the same reason).
enum MySQLProbe {
    struct Packet: Equatable {
        var sequence: UInt8
        var payload: ByteBuffer
    }

    struct Greeting: Equatable {
        var serverVersion: String
        var authPlugin: String?
    }

    /// One packet (3-byte little-endian length, sequence id, payload), or nil until it has all arrived.
    static func frame(_ buffer: inout ByteBuffer) throws -> Packet? {
        guard buffer.readableBytes >= 4 else { return nil }
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: 4)!
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        guard length > 0, length < WireSession.limit else {
            throw WireError.garbage("sent a MySQL packet of impossible length \(length)")
        }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return Packet(sequence: bytes[3], payload: buffer.readSlice(length: length)!)
    }

    /// Reads the first packet as a greeting, throwing for anything a MySQL server would not send first.
    static func greeting(_ packet: Packet) throws -> Result<Greeting, MySQLError> {
        var payload = packet.payload
        guard packet.sequence == 0 else { throw WireError.garbage("sent a first packet numbered \(packet.sequence), not 0") }
        switch payload.readInteger(as: UInt8.self) {
        case 0x0a:
            guard let version = payload.readCString(), !version.isEmpty, version.utf8.allSatisfy({ (0x20..<0x7f).contains($0) }) else {
                throw WireError.garbage("sent a protocol 10 greeting without a server version")
            }
            // connection id (4), auth-plugin-data part 1 (8), a filler 0, capability flags (2)
            guard payload.readableBytes >= 15, payload.getInteger(at: payload.readerIndex + 12, as: UInt8.self) == 0 else {
                throw WireError.garbage("sent a truncated protocol 10 greeting")
            }
            payload.moveReaderIndex(forwardBy: 15)
            // charset (1), status (2), upper capabilities (2), auth data length (1), reserved (10),
            // auth-plugin-data part 2 (at least 13), then the plugin's name.
            var plugin: String?
            if payload.readableBytes > 16 {
                let partTwo = max(13, Int(payload.getInteger(at: payload.readerIndex + 5, as: UInt8.self)!) - 8)
                payload.moveReaderIndex(forwardBy: min(payload.readableBytes, 16 + partTwo))
                plugin = payload.readCString() ?? payload.readString(length: payload.readableBytes)
            }
            return .success(Greeting(serverVersion: version, authPlugin: plugin?.isEmpty == false ? plugin : nil))
        case 0xff:
            return .failure(MySQLError(payload))
        case let other?:
            throw WireError.garbage("sent a greeting of protocol \(describeByte(other)), not 10")
        case nil:
            throw WireError.garbage("sent an empty greeting")
        }
    }

    struct MySQLError: Error, Equatable {
        var code: Int
        var message: String

        /// An ERR packet after its 0xff: the code, `#` and a SQLSTATE when the server has them, the text.
        init(_ payload: ByteBuffer) {
            var payload = payload
            code = Int(payload.readInteger(endianness: .little, as: UInt16.self) ?? 0)
            if payload.getInteger(at: payload.readerIndex, as: UInt8.self) == UInt8(ascii: "#") {
                payload.moveReaderIndex(forwardBy: min(6, payload.readableBytes))
            }
            message = payload.readString(length: payload.readableBytes) ?? ""
        }
    }

    /// HandshakeResponse41 for `devhost-health` with an empty password, using the server's own
    /// authentication plugin so that no switch request follows.
    static func login(plugin: String, sequence: UInt8) -> [UInt8] {
        // LONG_PASSWORD, PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
        let capabilities: UInt32 = 0x1 | 0x200 | 0x8000 | 0x80000
        var payload = little(capabilities) + little(UInt32(1 << 24)) + [33] + [UInt8](repeating: 0, count: 23)
        payload += Array("devhost-health".utf8) + [0] + [0] + Array(plugin.utf8) + [0]
        return Array(little(UInt32(payload.count)).prefix(3)) + [sequence] + payload
    }

    static func conversation() -> @Sendable (inout WireSession) async throws -> ProbeOutcome {
        { session in
            let first = try await session.receive(frame)
            switch try greeting(first) {
            case .failure(let error):
                return .unhealthy("refuses connections: \(error.message) (error \(error.code))")
            case .success(let greeting):
                try? await session.send(login(plugin: greeting.authPlugin ?? "mysql_native_password", sequence: first.sequence &+ 1))
                // The verdict (OK, or more likely access denied) only ends the handshake cleanly.
                _ = try? await session.receive(frame)
                return .healthy("greeting from \(greeting.serverVersion)")
            }
        }
    }

    static func little(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
    }
}
