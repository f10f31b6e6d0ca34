import NIOCore

/// What `ConnectionStateMachine`'s events answer: the actions `ProxyHandler` carries out.
extension ConnectionStateMachine {
    enum AfterFailure: Equatable {
        /// Send the request again, once, over a new connection to the same endpoint.
        case reconnect
        /// Choose another instance and send it there.
        case tryAnotherInstance(suspend: Bool)
        /// Answer 502.
        case badGateway(suspend: Bool)
        /// Part of the response went out: only closing the client tells it the response is cut.
        case closeClient(suspend: Bool)
    }

    enum AfterResponseHead: Equatable {
        /// 101 to an upgrade request: pass the head on, then relay bytes both ways.
        case relay
        /// An interim answer (100, 103) the client can read: pass it on and wait for the next head.
        case forwardInterim
        /// An interim answer an HTTP/1.0 client cannot read.
        case dropInterim
        /// The final head: pass it on, with `Connection: close` when `closing`, and with chunked
        /// framing removed when `dechunk`.
        case begin(closing: Bool, dechunk: Bool)
    }

    struct Completion: Equatable {
        /// The upstream connection goes back to the pool (otherwise it is closed).
        var poolUpstream: Bool
        /// The client connection closes after the last bytes.
        var closeClient: Bool
        /// It closes while the client may still be sending (an upload answered early): a
        /// lingering close.
        var clientStillSending: Bool
    }

    enum AfterUpstreamClose: Equatable {
        /// Nothing was asked of the connection: forget it.
        case forget
        /// The close is the end of a response without a length.
        case responseEnded
        /// A failed attempt (`upstreamFailed` decides what follows).
        case failed
    }

    struct LocalAnswer: Equatable {
        /// The connection closes after the answer.
        var closing: Bool
        /// ... while the client may still be sending (a lingering close).
        var clientStillSending: Bool
        /// An upstream attempt that has the request is abandoned.
        var dropUpstream: Bool
    }

    enum Deadline: Equatable {
        case none
        /// The upstream did not start its response in time: 504.
        case gatewayTimeout
        /// The client did not finish its request in time: 408, then close.
        case requestTimeout
        /// The upstream went silent mid-response: both connections close.
        case upstreamStalled
        /// Idle too long (or lingered long enough): close.
        case close
    }
}
