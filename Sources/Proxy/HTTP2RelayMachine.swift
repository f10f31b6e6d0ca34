import NIOHTTP2

/// The decisions of one HTTP/2 stream relayed to an h2c or gRPC upstream (`HTTP2Relay`): when a
/// failure may try another instance, and how a failure reaches the client: before the response
/// began, as an answer of devhost's own (a gRPC trailers-only response, or a 502/503 page); after,
/// as trailers carrying a gRPC status, or a reset stream for plain h2c. Pure: events in, actions out.
struct HTTP2RelayMachine: Equatable {
    enum Phase: Equatable {
        /// Choosing an instance, connecting, or waiting for the response's head.
        case requesting
        /// The response's head has gone to the client.
        case responding
        case done
    }

    enum Event: Equatable {
        /// The connection to the instance could not be made (refused, timed out).
        case connectFailed
        /// No healthy instance, after waiting.
        case noInstance
        /// The upstream reset the stream with this HTTP/2 error code.
        case upstreamReset(UInt32)
        /// The upstream stream or its connection ended with no end of the response.
        case upstreamClosed
        case responseHead(endStream: Bool)
        /// A 1xx head (100 Continue, 103 Early Hints): passed on, the final head still to come.
        case interimHead
        case responseEnded
        /// A request body frame went upstream: from now on nothing is retried.
        case requestBodySent
        /// The client reset or closed its stream.
        case clientGone
        /// An injected fault answers this HTTP status instead of forwarding (`devhost fault --error`).
        case faultError(status: Int, message: String)
        /// An injected fault resets the client's stream instead of forwarding (`devhost fault --reset`).
        case faultReset
    }

    /// What a failure is, in both protocols' terms.
    struct Failure: Equatable {
        var grpcStatus: Int
        var httpStatus: Int
        var message: String
    }

    enum Action: Equatable {
        case none
        /// Try another instance (setting this one aside when `suspend`): nothing reached it.
        case retry(suspend: Bool)
        /// Answer locally and end the stream.
        case answer(Failure)
        /// gRPC after the head: end the call with trailers carrying this status.
        case trailers(Failure)
        /// Plain h2c after the head: reset the client's stream.
        case resetClient
        /// Let go of the upstream stream (resetting it, if it is still open).
        case cancelUpstream
    }

    /// Connection attempts a request may make before it is answered UNAVAILABLE.
    static let attempts = 3

    private(set) var phase = Phase.requesting
    private(set) var bodySent = false
    private(set) var tries = 0
    /// The client speaks gRPC (its content-type is application/grpc…): failures are gRPC statuses.
    let grpc: Bool

    init(grpc: Bool) {
        self.grpc = grpc
    }

    mutating func handle(_ event: Event) -> Action {
        switch (event, phase) {
        case (_, .done):
            return .none
        case (.requestBodySent, _):
            bodySent = true
            return .none
        case (.interimHead, _):
            return .none
        case (.responseHead(let endStream), .requesting):
            phase = endStream ? .done : .responding
            return .none
        case (.responseHead, .responding):
            // Trailers arrive as a second head: the stream ends with them.
            phase = .done
            return .none
        case (.responseEnded, _):
            phase = .done
            return .none
        case (.clientGone, _):
            phase = .done
            return .cancelUpstream
        case (.noInstance, .requesting):
            phase = .done
            return .answer(Failure(grpcStatus: 14, httpStatus: 503, message: "no healthy instance"))
        case (.connectFailed, .requesting):
            tries += 1
            // Nothing reached the instance: another one (or the same, once it is back) may answer.
            if tries < Self.attempts, !bodySent { return .retry(suspend: true) }
            phase = .done
            return .answer(Failure(grpcStatus: 14, httpStatus: 502, message: "cannot connect to the upstream"))
        case (.upstreamReset(let code), .requesting):
            tries += 1
            // RFC 9113 §8.7: REFUSED_STREAM means the server did no work, so a retry is safe.
            if code == 0x7, tries < Self.attempts, !bodySent { return .retry(suspend: false) }
            phase = .done
            return .answer(Self.failure(forReset: code))
        case (.upstreamClosed, .requesting):
            phase = .done
            return .answer(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream closed the connection"))
        case (.upstreamReset(let code), .responding):
            phase = .done
            return grpc ? .trailers(Self.failure(forReset: code)) : .resetClient
        case (.upstreamClosed, .responding):
            phase = .done
            return grpc
                ? .trailers(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream closed the connection mid-call")) : .resetClient
        case (.noInstance, .responding), (.connectFailed, .responding):
            return .none
        case (.faultError(let status, let message), .requesting):
            phase = .done
            return .answer(Failure(grpcStatus: Self.grpcStatus(forHTTP: status), httpStatus: status, message: message))
        case (.faultReset, .requesting):
            phase = .done
            return .resetClient
        case (.faultError, .responding), (.faultReset, .responding):
            return .none
        }
    }

    /// An HTTP status as the gRPC status a gRPC client derives from it when a response carries no
    /// `grpc-status` (gRPC's "HTTP to gRPC Status Code Mapping"): what an injected error looks like
    /// to a gRPC client, so that a 503 fault is the UNAVAILABLE its retry policy knows.
    static func grpcStatus(forHTTP status: Int) -> Int {
        switch status {
        case 400: return 13  // INTERNAL
        case 401: return 16  // UNAUTHENTICATED
        case 403: return 7  // PERMISSION_DENIED
        case 404: return 12  // UNIMPLEMENTED
        case 429, 502, 503, 504: return 14  // UNAVAILABLE
        default: return 2  // UNKNOWN
        }
    }

    /// An upstream's RST_STREAM as a gRPC status, as gRPC's own clients map it (gRPC over HTTP/2,
    /// "Errors"): REFUSED_STREAM is UNAVAILABLE, CANCEL is CANCELLED, ENHANCE_YOUR_CALM is
    /// RESOURCE_EXHAUSTED, INADEQUATE_SECURITY is PERMISSION_DENIED, everything else INTERNAL.
    static func failure(forReset code: UInt32) -> Failure {
        let name = code < Self.codeNames.count ? Self.codeNames[Int(code)] : "error \(code)"
        switch HTTP2ErrorCode(networkCode: Int(code)) {
        case .refusedStream: return Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream refused the stream (\(name))")
        case .cancel: return Failure(grpcStatus: 1, httpStatus: 502, message: "the upstream cancelled the stream")
        case .enhanceYourCalm: return Failure(grpcStatus: 8, httpStatus: 502, message: "the upstream reset the stream (\(name))")
        case .inadequateSecurity: return Failure(grpcStatus: 7, httpStatus: 502, message: "the upstream reset the stream (\(name))")
        default: return Failure(grpcStatus: 13, httpStatus: 502, message: "the upstream reset the stream (\(name))")
        }
    }

    /// RFC 9113 §7.
    static let codeNames = [
        "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
        "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
    ]
}
