import NIOCore

/// The Kafka health check: an ApiVersions request (API key 18, version 0, which every broker since
/// 0.10 answers) and a response that is well-formed to the byte and carries the same correlation id.
enum KafkaProbe {
    static let apiVersionsKey: Int16 = 18
    static let clientID = "devhost-health"

    /// Request header v1 (key, version, correlation id, client id) and ApiVersions v0's empty body.
    static func request(correlationID: Int32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(2 + 2 + 4 + 2 + clientID.utf8.count))
        buffer.writeInteger(apiVersionsKey)
        buffer.writeInteger(Int16(0))
        buffer.writeInteger(correlationID)
        buffer.writeInteger(Int16(clientID.utf8.count))
        buffer.writeString(clientID)
        return Array(buffer.readableBytesView)
    }

    struct Response: Equatable {
        var correlationID: Int32
        var errorCode: Int16
        /// (api key, min version, max version)
        var apis: [ApiRange]
    }

    struct ApiRange: Equatable {
        var key: Int16
        var min: Int16
        var max: Int16
    }

    /// A size-prefixed ApiVersions v0 response, or nil until all of it arrived.
    static func frame(_ buffer: inout ByteBuffer) throws -> Response? {
        guard let size = buffer.peekInteger(at: 0, as: Int32.self) else { return nil }
        // correlation id (4), error code (2), array length (4), and 6 bytes an entry
        guard size >= 10, size < WireSession.limit, (size - 10) % 6 == 0 else {
            throw WireError.garbage("sent a response of size \(size), not an ApiVersions v0 response")
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let correlationID = buffer.readInteger(as: Int32.self)!
        let errorCode = buffer.readInteger(as: Int16.self)!
        let count = buffer.readInteger(as: Int32.self)!
        guard Int(count) == Int(size - 10) / 6 else {
            throw WireError.garbage("listed \(count) APIs in room for \((size - 10) / 6)")
        }
        var apis: [ApiRange] = []
        for _ in 0..<count {
            let key = buffer.readInteger(as: Int16.self)!
            let min = buffer.readInteger(as: Int16.self)!
            let max = buffer.readInteger(as: Int16.self)!
            guard min <= max, key >= 0 else { throw WireError.garbage("listed API \(key) with versions \(min)...\(max)") }
            apis.append(ApiRange(key: key, min: min, max: max))
        }
        return Response(correlationID: correlationID, errorCode: errorCode, apis: apis)
    }

    static func conversation() -> @Sendable (inout WireSession) async throws -> ProbeOutcome {
        { session in
            let correlationID = Int32.random(in: 1...Int32.max)
            try await session.send(request(correlationID: correlationID))
            let response = try await session.receive(frame)
            guard response.correlationID == correlationID else {
                return .unhealthy("answered correlation id \(response.correlationID), sent \(correlationID)")
            }
            // 35 is UNSUPPORTED_VERSION: a broker that dropped v0 still lists what it speaks, so it is up.
            guard response.errorCode == 0 || response.errorCode == 35 else {
                return .unhealthy("ApiVersions answered error code \(response.errorCode)")
            }
            guard response.apis.contains(where: { $0.key == apiVersionsKey }) else {
                return .unhealthy("ApiVersions answered without ApiVersions among \(response.apis.count) APIs")
            }
            return .healthy("ApiVersions lists \(response.apis.count) APIs")
        }
    }
}
