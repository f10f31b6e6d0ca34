import Testing

@testable import DevhostProxy

/// What a relayed h2c or gRPC stream does on each failure, before and after the response began.
@Suite struct HTTP2RelayMachineTests {
    typealias Machine = HTTP2RelayMachine
    typealias Failure = HTTP2RelayMachine.Failure

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var grpc: Bool
        var events: [Machine.Event]
        var last: Machine.Action
        var phase: Machine.Phase
        var testDescription: String { name }
    }

    static let unavailable = Failure(grpcStatus: 14, httpStatus: 502, message: "cannot connect to the upstream")

    static let rows: [Row] = [
        Row(
            name: "a refused connection tries again", grpc: true, events: [.connectFailed], last: .retry(suspend: true), phase: .requesting),
        Row(
            name: "three refused connections are UNAVAILABLE", grpc: true, events: [.connectFailed, .connectFailed, .connectFailed],
            last: .answer(unavailable), phase: .done),
        Row(
            name: "no retry once a body frame went upstream", grpc: true, events: [.requestBodySent, .connectFailed],
            last: .answer(unavailable), phase: .done),
        Row(
            name: "no instance", grpc: false, events: [.noInstance],
            last: .answer(Failure(grpcStatus: 14, httpStatus: 503, message: "no healthy instance")), phase: .done),
        Row(
            name: "REFUSED_STREAM is safe to retry", grpc: true, events: [.upstreamReset(7)], last: .retry(suspend: false),
            phase: .requesting),
        Row(
            name: "REFUSED_STREAM after a body is UNAVAILABLE", grpc: true, events: [.requestBodySent, .upstreamReset(7)],
            last: .answer(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream refused the stream (REFUSED_STREAM)")),
            phase: .done),
        Row(
            name: "INTERNAL_ERROR before the head", grpc: true, events: [.upstreamReset(2)],
            last: .answer(Failure(grpcStatus: 13, httpStatus: 502, message: "the upstream reset the stream (INTERNAL_ERROR)")), phase: .done
        ),
        Row(
            name: "a closed connection before the head", grpc: false, events: [.upstreamClosed],
            last: .answer(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream closed the connection")), phase: .done),
        Row(
            name: "CANCEL mid-call ends gRPC with CANCELLED trailers", grpc: true,
            events: [.responseHead(endStream: false), .upstreamReset(8)],
            last: .trailers(Failure(grpcStatus: 1, httpStatus: 502, message: "the upstream cancelled the stream")), phase: .done),
        Row(
            name: "a lost connection mid-call is UNAVAILABLE trailers", grpc: true,
            events: [.responseHead(endStream: false), .upstreamClosed],
            last: .trailers(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream closed the connection mid-call")), phase: .done),
        Row(
            name: "h2c mid-response resets the client", grpc: false, events: [.responseHead(endStream: false), .upstreamReset(2)],
            last: .resetClient, phase: .done),
        Row(
            name: "trailers end the call; a close after is nothing", grpc: true,
            events: [.responseHead(endStream: false), .responseHead(endStream: true), .upstreamClosed], last: .none, phase: .done),
        Row(name: "trailers-only", grpc: true, events: [.responseHead(endStream: true), .upstreamClosed], last: .none, phase: .done),
        Row(name: "100 Continue is not the response", grpc: false, events: [.interimHead], last: .none, phase: .requesting),
        Row(
            name: "after 100 Continue the final head and body end the stream", grpc: false,
            events: [.interimHead, .requestBodySent, .responseHead(endStream: false), .responseEnded], last: .none, phase: .done),
        Row(
            name: "a lost connection after 100 Continue is answered locally", grpc: false,
            events: [.interimHead, .requestBodySent, .upstreamClosed],
            last: .answer(Failure(grpcStatus: 14, httpStatus: 502, message: "the upstream closed the connection")), phase: .done),
        Row(
            name: "the client leaves mid-call", grpc: true, events: [.responseHead(endStream: false), .clientGone], last: .cancelUpstream,
            phase: .done),
        Row(
            name: "ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED", grpc: true, events: [.requestBodySent, .upstreamReset(11)],
            last: .answer(Failure(grpcStatus: 8, httpStatus: 502, message: "the upstream reset the stream (ENHANCE_YOUR_CALM)")),
            phase: .done),
        Row(
            name: "an injected 503 is UNAVAILABLE for gRPC", grpc: true, events: [.faultError(status: 503, message: "fault f1")],
            last: .answer(Failure(grpcStatus: 14, httpStatus: 503, message: "fault f1")), phase: .done),
        Row(
            name: "an injected 404 is UNIMPLEMENTED", grpc: false, events: [.faultError(status: 404, message: "fault f2")],
            last: .answer(Failure(grpcStatus: 12, httpStatus: 404, message: "fault f2")), phase: .done),
        Row(name: "an injected reset resets the client", grpc: true, events: [.faultReset], last: .resetClient, phase: .done),
        Row(
            name: "a fault after the head is nothing", grpc: true, events: [.responseHead(endStream: false), .faultReset], last: .none,
            phase: .responding),
    ]

    /// gRPC's "HTTP to gRPC Status Code Mapping".
    @Test(arguments: [
        (400, 13), (401, 16), (403, 7), (404, 12), (429, 14), (502, 14), (503, 14), (504, 14), (500, 2), (418, 2), (599, 2),
    ])
    func httpStatusesReadAsGRPCStatuses(_ http: Int, _ grpc: Int) {
        #expect(Machine.grpcStatus(forHTTP: http) == grpc)
    }

    @Test(arguments: rows)
    func decides(_ row: Row) {
        var machine = Machine(grpc: row.grpc)
        var last = Machine.Action.none
        for event in row.events { last = machine.handle(event) }
        #expect(last == row.last)
        #expect(machine.phase == row.phase)
    }

    @Test func grpcMessagesArePercentEncoded() {
        #expect(HTTP2Relay.percentEncoded("100% ok: naïve\n") == "100%25 ok: na%C3%AFve%0A")
    }
}
