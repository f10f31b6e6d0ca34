import NIOCore

/// Every decision about one client connection of the proxy, as a value: events come in with the
/// time they happened, actions go out, and nothing here reads a clock, a socket or a buffer.
/// `ProxyHandler` does the I/O around it (parsing, writing, connecting) and switches over what
/// this returns; the tables in ConnectionStateMachineTests drive it on a fake clock.
///
/// Modelled on swift-nio's `HTTPServerPipelineHandler` state and Hummingbird's
/// `HTTPConnectionStateHandler.StateMachine`: one enum of named states, each carrying what only it
/// needs, so a flag cannot outlive the state it belongs to.
struct ConnectionStateMachine {
    struct Limits {
        /// A request must keep arriving within this, and an idle keep-alive connection closes after it.
        var idle: TimeAmount
        /// The upstream's time to start its response once it has the whole request (504 after).
        var upstream: TimeAmount
        /// The longest silence of an upstream in the middle of a response.
        var upstreamRead: TimeAmount
        /// How long a closing connection reads and drops what its client still sends.
        var linger: TimeAmount = .seconds(2)
        /// Instances tried for one request before it is answered 502.
        var attempts = 4
    }

    /// What the decisions about the request in flight depend on.
    struct Request {
        /// The whole request has arrived.
        var ended: Bool
        /// The last time a part of the request arrived (408 when the client stalls).
        var lastPart: NIODeadline
        /// Some of the body went to an upstream: the request can no longer be sent again.
        var bodySent = false
        /// The upstream connection came from the pool: it may be closed by its server just as it
        /// is reused, which says nothing about the instance.
        var reused = false
        /// Instances that failed this request.
        var failedInstances = 0
        /// When the upstream must have started its response; set once it has the whole request,
        /// and kept across a retry.
        var responseDeadline: NIODeadline?
        /// When the ticker last saw the upstream speak, and whether it has since: a read only sets
        /// the flag, so no clock is read per response.
        var lastUpstreamRead: NIODeadline
        var upstreamSpoke = false

        init(ended: Bool, now: NIODeadline) {
            self.ended = ended
            lastPart = now
            lastUpstreamRead = now
        }
    }

    /// How the response under way ends the exchange.
    struct Response {
        /// The upstream connection may serve another request afterwards.
        var keepUpstream: Bool
        /// The client connection closes after this response.
        var closeAfter: Bool
        /// The response's end is the upstream closing its connection.
        var untilClose: Bool
    }

    enum State {
        /// Between requests (a partial head may be buffered).
        case idle(since: NIODeadline)
        /// A request head arrived; its endpoint is being chosen (or a healthy instance awaited).
        case awaitingEndpoint(Request)
        /// A new upstream connection is being made for the request.
        case connecting(Request)
        /// The request head went upstream; no response head yet.
        case awaitingResponse(Request)
        /// The response head went to the client; its body follows.
        case streamingResponse(Request, Response)
        /// After a 101 the connections are a byte pipe and the handler is gone.
        case relaying
        /// The last bytes are written; the client's input is read and dropped for a moment.
        case lingering(since: NIODeadline)
        case closed
    }

    private(set) var state: State
    let limits: Limits

    init(limits: Limits, now: NIODeadline) {
        self.limits = limits
        state = .idle(since: now)
    }

    // MARK: Queries

    /// The request in flight, in any state that has one.
    var request: Request? {
        switch state {
        case .awaitingEndpoint(let request), .connecting(let request), .awaitingResponse(let request), .streamingResponse(let request, _):
            return request
        case .idle, .relaying, .lingering, .closed:
            return nil
        }
    }

    var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// Client bytes are read and dropped (the connection is closing).
    var isLingering: Bool {
        if case .lingering = state { return true }
        return false
    }

    /// The request head has gone to the upstream connection in use.
    var requestSent: Bool {
        switch state {
        case .awaitingResponse, .streamingResponse: return true
        default: return false
        }
    }

    var responseStarted: Bool {
        if case .streamingResponse = state { return true }
        return false
    }

    /// Client bytes stay buffered, unread: a pipelined request waits until the response before it
    /// has ended, and a body waits while its allowance is full (`holdingBody`).
    func holdsClientBytes(holdingBody: @autoclosure () -> Bool) -> Bool {
        switch state {
        case .idle: return false
        case .awaitingEndpoint(let request), .connecting(let request), .awaitingResponse(let request), .streamingResponse(let request, _):
            return request.ended || holdingBody()
        case .relaying, .lingering, .closed: return true
        }
    }

    // MARK: The request

    /// A request head was parsed; `ended` when it has no body.
    mutating func requestBegan(ended: Bool, now: NIODeadline) {
        guard case .idle = state else { return }
        state = .awaitingEndpoint(Request(ended: ended, now: now))
    }

    /// A part of the request body arrived.
    mutating func bodyReceived(now: NIODeadline) {
        modifyRequest { $0.lastPart = now }
    }

    /// Body bytes were written to the upstream.
    mutating func bodyForwarded() {
        modifyRequest { $0.bodySent = true }
    }

    /// The last byte of the request arrived. The upstream's time to answer starts once it has the
    /// whole request: a client that stalls mid-body is the client's fault (408), not the
    /// upstream's (504).
    mutating func requestEnded(now: NIODeadline) {
        let limit = limits.upstream
        modifyRequest { request in
            request.ended = true
            request.lastPart = now
        }
        if case .awaitingResponse(var request) = state, request.responseDeadline == nil {
            request.responseDeadline = now + limit
            state = .awaitingResponse(request)
        }
    }

    /// A new upstream connection is being opened for the request.
    mutating func connecting() {
        switch state {
        case .awaitingEndpoint(var request), .connecting(var request), .awaitingResponse(var request):
            request.reused = false
            state = .connecting(request)
        default:
            return
        }
    }

    /// The request head went out over `reused` (pooled) or a new connection; `bodyWritten` when
    /// held body bytes went with it.
    mutating func requestSent(reused: Bool, bodyWritten: Bool, now: NIODeadline) {
        switch state {
        case .awaitingEndpoint(var request), .connecting(var request), .awaitingResponse(var request):
            request.reused = reused
            if bodyWritten { request.bodySent = true }
            request.lastUpstreamRead = now
            request.upstreamSpoke = false
            if request.ended { request.responseDeadline = now + limits.upstream }
            state = .awaitingResponse(request)
        default:
            return
        }
    }

    /// The upstream sent bytes, or can be read again after a pause: its silence so far is not a stall.
    mutating func upstreamSpoke() {
        switch state {
        case .awaitingResponse(var request):
            if request.upstreamSpoke { return }
            request.upstreamSpoke = true
            state = .awaitingResponse(request)
        case .streamingResponse(var request, let response):
            if request.upstreamSpoke { return }
            request.upstreamSpoke = true
            state = .streamingResponse(request, response)
        default:
            return
        }
    }

    /// The upstream connection failed (refused, reset, closed before the response ended).
    /// `suspend`: the failure says something about the instance (passive health).
    mutating func upstreamFailed(idempotent: Bool, toService: Bool) -> AfterFailure {
        guard var request else { return .badGateway(suspend: false) }
        let started = responseStarted
        if request.reused, idempotent, !request.bodySent, !started {
            // A kept-alive connection closed by the upstream as it was reused: again, once.
            request.reused = false
            state = .connecting(request)
            return .reconnect
        }
        let suspend = !request.reused
        if started { return .closeClient(suspend: suspend) }
        if idempotent, !request.bodySent, toService, request.failedInstances < limits.attempts {
            request.failedInstances += 1
            request.reused = false
            state = .awaitingEndpoint(request)
            return .tryAnotherInstance(suspend: suspend)
        }
        state = .awaitingEndpoint(request)
        return .badGateway(suspend: suspend)
    }

    // MARK: The response

    /// A response head from the upstream. `upgradeAccepted`: a 101 to a request that asked to
    /// upgrade. `untilClose`: the body ends when the upstream closes; `chunked`: it is chunked.
    mutating func responseHead(
        status: Int, upgradeAccepted: Bool, clientMinor: Int, clientKeepAlive: Bool, upstreamKeepAlive: Bool, untilClose: Bool,
        chunked: Bool
    ) -> AfterResponseHead {
        guard case .awaitingResponse(var request) = state else { return .dropInterim }
        request.upstreamSpoke = true
        if upgradeAccepted {
            state = .relaying
            return .relay
        }
        if status < 200 {
            state = .awaitingResponse(request)
            return clientMinor >= 1 && status != 101 ? .forwardInterim : .dropInterim
        }
        // A response that ends with the connection, or one that came before the request finished,
        // leaves the client connection unusable for another request.
        var closing = !clientKeepAlive || !request.ended || untilClose
        // An HTTP/1.0 client cannot read chunked framing: the data goes on plain and the
        // connection's end ends it.
        let dechunk = clientMinor == 0 && chunked
        if dechunk { closing = true }
        let response = Response(keepUpstream: upstreamKeepAlive && !untilClose, closeAfter: closing, untilClose: untilClose)
        state = .streamingResponse(request, response)
        return .begin(closing: closing, dechunk: dechunk)
    }

    /// The response's last byte was passed on. `leftover`: the upstream sent bytes past it.
    mutating func responseEnded(leftover: Bool, now: NIODeadline) -> Completion {
        guard case .streamingResponse(let request, let response) = state else {
            return Completion(poolUpstream: false, closeClient: true, clientStillSending: false)
        }
        // An upstream still owed part of the request body is out of step for anyone else.
        let pool = response.keepUpstream && request.ended && !leftover
        state = response.closeAfter ? .lingering(since: now) : .idle(since: now)
        return Completion(poolUpstream: pool, closeClient: response.closeAfter, clientStillSending: !request.ended)
    }

    func upstreamClosed() -> AfterUpstreamClose {
        switch state {
        case .awaitingResponse: return .failed
        case .streamingResponse(_, let response): return response.untilClose ? .responseEnded : .failed
        default: return .forget
        }
    }

    /// After a 101 the handler leaves the pipeline.
    mutating func relayStarted() {
        state = .relaying
    }

    // MARK: Local answers and the connection's end

    /// devhost answers the request itself (an error, a page, a built-in endpoint). A request whose
    /// body has not all arrived closes the connection afterwards: its remaining bytes cannot be
    /// told from a next request.
    mutating func answerLocally(close: Bool, clientKeepAlive: Bool, now: NIODeadline) -> LocalAnswer {
        let answer: LocalAnswer
        if let request {
            answer = LocalAnswer(
                closing: close || !clientKeepAlive || !request.ended, clientStillSending: !request.ended,
                dropUpstream: requestSent && !responseStarted)
        } else {
            // Nothing parsed (a stalled or oversized head): the client may still be sending it.
            answer = LocalAnswer(closing: true, clientStillSending: true, dropUpstream: false)
        }
        state = answer.closing ? .lingering(since: now) : .idle(since: now)
        return answer
    }

    /// The periodic check. `holdingBody`: the body's allowance is full while the upstream
    /// connection is not ready (the client is not being read, so its silence is not a stall).
    /// `upstreamPaused`: reads from the upstream are paused for a slow client. `partialHead`: part
    /// of a next request is buffered.
    mutating func tick(now: NIODeadline, holdingBody: Bool, upstreamPaused: Bool, partialHead: Bool) -> Deadline {
        switch state {
        case .idle(let since):
            guard now - since >= limits.idle else { return .none }
            return partialHead ? .requestTimeout : .close
        case .lingering(let since):
            return now - since >= limits.linger ? .close : .none
        case .relaying, .closed:
            return .none
        case .awaitingEndpoint(var request), .connecting(var request), .awaitingResponse(var request):
            noteUpstreamSpoke(&request, now: now)
            if let deadline = request.responseDeadline, now >= deadline { return .gatewayTimeout }
            if !request.ended, !holdingBody, now - request.lastPart >= limits.idle { return .requestTimeout }
            return .none
        case .streamingResponse(var request, let response):
            noteUpstreamSpoke(&request, now: now)
            state = .streamingResponse(request, response)
            if !upstreamPaused, now - request.lastUpstreamRead >= limits.upstreamRead { return .upstreamStalled }
            return .none
        }
    }

    /// The connection closed (or is being closed without a last answer).
    mutating func closed() {
        state = .closed
    }

    // MARK: Helpers

    private mutating func noteUpstreamSpoke(_ request: inout Request, now: NIODeadline) {
        guard request.upstreamSpoke else { return }
        request.upstreamSpoke = false
        request.lastUpstreamRead = now
        switch state {
        case .awaitingEndpoint: state = .awaitingEndpoint(request)
        case .connecting: state = .connecting(request)
        case .awaitingResponse: state = .awaitingResponse(request)
        default: break
        }
    }

    private mutating func modifyRequest(_ change: (inout Request) -> Void) {
        switch state {
        case .awaitingEndpoint(var request):
            change(&request)
            state = .awaitingEndpoint(request)
        case .connecting(var request):
            change(&request)
            state = .connecting(request)
        case .awaitingResponse(var request):
            change(&request)
            state = .awaitingResponse(request)
        case .streamingResponse(var request, let response):
            change(&request)
            state = .streamingResponse(request, response)
        case .idle, .relaying, .lingering, .closed:
            return
        }
    }
}
