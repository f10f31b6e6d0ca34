import DevhostManifest
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The relay's fields and answers: what goes upstream, what a failure says, and how a stream is
/// handed from the bridge to the relay.
extension HTTP2Relay {
    /// Why a request over HTTP/1.1 cannot reach a service of this protocol, or nil when it can. gRPC
    /// needs trailers and full-duplex streams, which HTTP/1.1 cannot carry; h2c from HTTP/1.1 is
    /// translated (`H2CTranslator`).
    static func refusalOverHTTP1(_ upstream: UpstreamProtocol, service: String) -> String? {
        switch upstream {
        case .http1: return nil
        case .grpc:
            return
                "service \(service) speaks gRPC (protocol: grpc), which needs HTTP/2: call it over HTTPS (the proxy's HTTPS port, ALPN h2) "
                + "or with HTTP/2 prior knowledge on this port (a plaintext gRPC channel)"
        case .h2c:
            // Translated (`H2CTranslator`).
            return nil
        }
    }

    /// The relay takes the stream's place of the bridge and the proxy handler behind it.
    static func takeOver(_ context: ChannelHandlerContext, from bridge: HTTP2Bridge, relay: HTTP2Relay) {
        let operations = context.pipeline.syncOperations
        do {
            try operations.addHandler(relay, position: .after(bridge))
            operations.removeHandler(name: "proxy", promise: nil)
            operations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    /// The request's fields as they go upstream: a client's own forwarding fields never pass (as on
    /// HTTP/1.1), the proxy's are added, and a stripped path prefix comes off `:path`.
    static func forwarded(_ headers: HPACKHeaders, client: String, authority: String, strip: PathPrefix?, secure: Bool = true)
        -> HPACKHeaders
    {
        var out = HPACKHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value, indexing) in headers {
            switch name {
            case "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-prefix", "x-real-ip": continue
            case ":path" where strip != nil: out.add(name: name, value: strip!.stripped(value), indexing: indexing)
            default: out.add(name: name, value: value, indexing: indexing)
            }
        }
        out.add(name: "x-forwarded-for", value: client)
        out.add(name: "x-forwarded-proto", value: secure ? "https" : "http")
        out.add(name: "x-forwarded-host", value: authority)
        out.add(
            name: "forwarded",
            value: (client.contains(":") ? "for=\"[\(client)]\"" : "for=\(client)")
                + ";host=\"\(authority)\";proto=\(secure ? "https" : "http")")
        if let strip { out.add(name: "x-forwarded-prefix", value: strip.path) }
        return out
    }

    /// A client's request id is kept when it is a plain token, as on HTTP/1.1 (`RequestID.isPlain`):
    /// it goes into log lines and pages.
    static func isPlainRequestID(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 200 else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "+"), UInt8(ascii: "/"),
                UInt8(ascii: "="), UInt8(ascii: "@"):
                return true
            default: return false
            }
        }
    }

    /// A response head with a 1xx `:status`: an interim answer, not the response.
    static func isInterim(_ headers: HPACKHeaders) -> Bool {
        guard let status = headers.first(name: ":status") else { return false }
        return status.utf8.count == 3 && status.utf8.first == UInt8(ascii: "1")
    }

    static func statusFields(_ failure: HTTP2RelayMachine.Failure, service: String) -> HPACKHeaders {
        ["grpc-status": String(failure.grpcStatus), "grpc-message": percentEncoded("devhost: service \(service): \(failure.message)")]
    }

    /// grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// A stream for an h2c or gRPC service leaves the bridge for the relay (`HTTP2Relay.takeOver`).
extension HTTP2Bridge: RemovableChannelHandler {}

/// The relay's end of a stream on an upstream connection: frames and their end go to the relay.
final class HTTP2RelayUpstream: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload

    let relay: NIOLoopBound<HTTP2Relay>

    init(relay: NIOLoopBound<HTTP2Relay>) {
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.value.upstreamRead(unwrapInboundIn(data), from: context.channel)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        relay.value.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        relay.value.upstreamWritable(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed {
            relay.value.upstreamReset(UInt32(closed.errorCode.networkCode), from: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        relay.value.upstreamClosed(context.channel)
    }
}
