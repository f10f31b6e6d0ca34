import DevhostManifest
import DevhostProxy
import Foundation

/// How the control API writes a recorded exchange: a summary for lists, everything for the detail.
/// Secrets are masked here, at the last step, unless masking is off for the session.
extension InspectedRequest {
    public func summaryJSON() -> JSONValue {
        .object([
            ("id", .int(id)), ("time", .string(Self.timeText(startedAt))), ("method", .string(method)),
            ("scheme", .string(secure ? "https" : "http")), ("host", .string(host)),
            ("target", .string(target)), ("service", .string(service)), ("instance", instance.map { .string($0) } ?? .null),
            ("request_id", .string(requestID)), ("status", .int(status)), ("state", .string(state.rawValue)),
            ("timings", timingsJSON), ("request_body_size", .int(requestBodySize)), ("response_body_size", .int(responseBodySize)),
            ("answered_by_devhost", .bool(answeredByDevhost)),
        ])
    }

    public func detailJSON(masked: Bool) -> JSONValue {
        guard case .object(var pairs) = summaryJSON() else { return .null }
        pairs += [
            ("masked", .bool(masked)),
            (
                "request",
                .object(
                    [
                        ("headers", Self.headersJSON(requestHeaders, masked: masked)),
                        ("trailers", Self.headersJSON(requestTrailers, masked: masked)),
                    ]
                        + Self.bodyJSON(requestBody, size: requestBodySize, truncated: requestBodyTruncated))
            ),
            (
                "response",
                .object(
                    [
                        ("headers", Self.headersJSON(responseHeaders, masked: masked)),
                        ("trailers", Self.headersJSON(responseTrailers, masked: masked)),
                    ]
                        + Self.bodyJSON(responseBody, size: responseBodySize, truncated: responseBodyTruncated))
            ),
        ]
        return .object(pairs)
    }

    private var timingsJSON: JSONValue {
        func ms(_ value: Double?) -> JSONValue { value.map { .number(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("upstream_wait_ms", ms(upstreamWaitMilliseconds)), ("first_byte_ms", ms(firstByteMilliseconds)),
            ("total_ms", ms(totalMilliseconds)),
        ])
    }

    static func headersJSON(_ fields: [Field], masked: Bool) -> JSONValue {
        .array(
            fields.map { field in
                .array([.string(field.name), .string(masked && isSecret(field.name) ? Inspector.mask : field.value)])
            })
    }

    /// UTF-8 text as it is, anything else as base64.
    static func bodyJSON(_ bytes: [UInt8], size: Int, truncated: Bool) -> [(String, JSONValue)] {
        let text = String(validating: bytes, as: UTF8.self)
        return [
            ("body", .string(text ?? Data(bytes).base64EncodedString())), ("body_encoding", .string(text == nil ? "base64" : "utf8")),
            ("body_size", .int(size)), ("body_truncated", .bool(truncated)),
        ]
    }

    static func timeText(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
