import NIOCore
import Testing

@testable import DevhostProxy

/// `ConnectionStateMachine` fed events at instants of a fake clock (seconds from an origin), with
/// the actions it answers compared to what the proxy must do. No channel, no socket, no process.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine
    static let limits = Machine.Limits(idle: .seconds(60), upstream: .seconds(30), upstreamRead: .seconds(20))

    static func at(_ seconds: Double) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + seconds * 1e9)) }
    func at(_ seconds: Double) -> NIODeadline { Self.at(seconds) }

    /// A machine whose request (with a body still to come when `ended` is false) went out at t=0.
    func sent(ended: Bool = true, reused: Bool = false) -> Machine {
        var machine = Machine(limits: Self.limits, now: at(0))
        machine.requestBegan(ended: ended, now: at(0))
        machine.requestSent(reused: reused, bodyWritten: false, now: at(0))
        return machine
    }

    /// A final head with the common framing (a length, both sides keep-alive) unless told otherwise.
    func head(
        _ machine: inout Machine, status: Int = 200, upgrade: Bool = false, minor: Int = 1, clientKeepAlive: Bool = true,
        upstreamKeepAlive: Bool = true, untilClose: Bool = false, chunked: Bool = false
    ) -> Machine.AfterResponseHead {
        machine.responseHead(
            status: status, upgradeAccepted: upgrade, clientMinor: minor, clientKeepAlive: clientKeepAlive,
            upstreamKeepAlive: upstreamKeepAlive, untilClose: untilClose, chunked: chunked)
    }

    func tick(_ machine: inout Machine, _ seconds: Double, holdingBody: Bool = false, paused: Bool = false, partial: Bool = false)
        -> Machine.Deadline
    {
        machine.tick(now: at(seconds), holdingBody: holdingBody, upstreamPaused: paused, partialHead: partial)
    }

    // MARK: Deadlines

    struct DeadlineCase: CustomTestStringConvertible, Sendable {
        let name: String
        /// Seconds of the tick; the request (without a body unless `bodyPending`) went out at 0.
        let tickAt: Double
        var bodyPending = false
        var responseStarted = false
        var paused = false
        var holdingBody = false
        var bodyPartAt: Double?
        let expected: ConnectionStateMachine.Deadline
        var testDescription: String { name }
    }

    static let deadlineCases: [DeadlineCase] = [
        .init(name: "upstream silent just before the deadline", tickAt: 29.9, expected: .none),
        .init(name: "upstream silent at the deadline: 504", tickAt: 30, expected: .gatewayTimeout),
        .init(name: "a stalled upload is the client's fault: 408, not 504", tickAt: 61, bodyPending: true, expected: .requestTimeout),
        .init(name: "an upload still arriving is no stall", tickAt: 61, bodyPending: true, bodyPartAt: 30, expected: .none),
        .init(
            name: "a body held back (allowance full) is not the client's stall", tickAt: 61, bodyPending: true, holdingBody: true,
            expected: .none),
        .init(name: "no 504 once the response started", tickAt: 31, responseStarted: true, paused: true, expected: .none),
        .init(name: "upstream silent mid-response past the read limit", tickAt: 20.5, responseStarted: true, expected: .upstreamStalled),
        .init(name: "a paused upstream (slow client) is not stalled", tickAt: 21, responseStarted: true, paused: true, expected: .none),
    ]

    @Test(arguments: deadlineCases) func deadlines(_ row: DeadlineCase) {
        var machine = sent(ended: !row.bodyPending)
        if let part = row.bodyPartAt { machine.bodyReceived(now: at(part)) }
        if row.responseStarted {
            _ = head(&machine)
            // The tick after a read notes its time: silence counts from there.
            #expect(tick(&machine, 0.5) == .none)
        }
        #expect(tick(&machine, row.tickAt, holdingBody: row.holdingBody, paused: row.paused) == row.expected)
    }

    @Test func theUpstreamsTimeStartsWhenTheWholeRequestHasArrived() {
        var machine = sent(ended: false)
        machine.requestEnded(now: at(50))
        #expect(tick(&machine, 79) == .none)
        #expect(tick(&machine, 80) == .gatewayTimeout)
    }

    @Test func anUpstreamThatSpeaksIsNotStalledUntilItFallsSilentAgain() {
        var machine = sent()
        _ = head(&machine)
        machine.upstreamSpoke()
        // The tick notes the time it saw the flag: silence is counted from there.
        #expect(tick(&machine, 15) == .none)
        #expect(tick(&machine, 34) == .none)
        #expect(tick(&machine, 35) == .upstreamStalled)
    }

    @Test func idleConnectionsCloseAndAPartialHeadGets408() {
        var idle = Machine(limits: Self.limits, now: at(0))
        #expect(tick(&idle, 59) == .none)
        #expect(tick(&idle, 60) == .close)
        var partial = Machine(limits: Self.limits, now: at(0))
        #expect(tick(&partial, 60, partial: true) == .requestTimeout)
    }

    @Test func aLingeringCloseEndsAfterItsLimit() {
        var machine = Machine(limits: Self.limits, now: at(0))
        _ = machine.answerLocally(close: true, clientKeepAlive: true, now: at(1))
        #expect(machine.isLingering)
        #expect(tick(&machine, 2.9) == .none)
        #expect(tick(&machine, 3) == .close)
    }

    @Test func theDeadlineOfAFirstAttemptHoldsAcrossARetry() {
        var machine = sent(reused: true)
        #expect(machine.upstreamFailed(idempotent: true, toService: true) == .reconnect)
        #expect(tick(&machine, 30) == .gatewayTimeout)
    }

    // MARK: Failures and retries

    struct FailureCase: CustomTestStringConvertible, Sendable {
        let name: String
        var reused = false
        var idempotent = true
        var bodySent = false
        var responseStarted = false
        var toService = true
        var earlierFailures = 0
        let expected: ConnectionStateMachine.AfterFailure
        var testDescription: String { name }
    }

    static let failureCases: [FailureCase] = [
        .init(name: "a reused connection reset: again once on a new one", reused: true, expected: .reconnect),
        .init(
            name: "a reused connection reset after body bytes went: never sent twice", reused: true, bodySent: true,
            expected: .badGateway(suspend: false)),
        .init(
            name: "a POST on a reused connection is not repeated", reused: true, idempotent: false, expected: .badGateway(suspend: false)),
        .init(name: "a new connection refused: another instance", expected: .tryAnotherInstance(suspend: true)),
        .init(name: "a fixed address has no other instance", toService: false, expected: .badGateway(suspend: true)),
        .init(name: "after four instances failed: 502", earlierFailures: 4, expected: .badGateway(suspend: true)),
        .init(name: "no retry after body bytes were sent", bodySent: true, expected: .badGateway(suspend: true)),
        .init(name: "mid-response: the client is cut off", responseStarted: true, expected: .closeClient(suspend: true)),
        .init(
            name: "mid-response on a reused connection: cut off, instance not blamed", reused: true, responseStarted: true,
            expected: .closeClient(suspend: false)),
    ]

    @Test(arguments: failureCases) func failures(_ row: FailureCase) {
        var machine = Machine(limits: Self.limits, now: at(0))
        machine.requestBegan(ended: true, now: at(0))
        for _ in 0..<row.earlierFailures {
            machine.requestSent(reused: false, bodyWritten: false, now: at(0))
            _ = machine.upstreamFailed(idempotent: true, toService: true)
        }
        machine.requestSent(reused: row.reused, bodyWritten: row.bodySent, now: at(0))
        if row.responseStarted { _ = head(&machine) }
        #expect(machine.upstreamFailed(idempotent: row.idempotent, toService: row.toService) == row.expected)
    }

    @Test func theRetryOfAReusedConnectionHappensOnce() {
        var machine = sent(reused: true)
        #expect(machine.upstreamFailed(idempotent: true, toService: false) == .reconnect)
        machine.requestSent(reused: false, bodyWritten: false, now: at(1))
        #expect(machine.upstreamFailed(idempotent: true, toService: false) == .badGateway(suspend: true))
    }

    @Test func bodyBytesForwardedAfterTheHeadForbidARetry() {
        var machine = sent(ended: false, reused: true)
        machine.bodyForwarded()
        #expect(machine.upstreamFailed(idempotent: true, toService: true) == .badGateway(suspend: false))
    }

    // MARK: Responses

    @Test func interimAnswersPassToHTTP11ClientsThenTheFinalOneBegins() {
        var machine = sent()
        #expect(head(&machine, status: 100) == .forwardInterim)
        #expect(head(&machine, status: 103) == .forwardInterim)
        #expect(!machine.responseStarted)
        #expect(head(&machine, status: 200) == .begin(closing: false, dechunk: false))
        #expect(machine.responseStarted)
    }

    @Test func anHTTP10ClientGetsNoInterimAnswer() {
        var machine = sent()
        #expect(head(&machine, status: 100, minor: 0) == .dropInterim)
    }

    @Test func a101ToAnUpgradeBecomesARelayAndA101WithoutOneIsDropped() {
        var upgrade = sent()
        #expect(head(&upgrade, status: 101, upgrade: true) == .relay)
        #expect(upgrade.holdsClientBytes(holdingBody: false))
        #expect(tick(&upgrade, 1000) == .none)
        var stray = sent()
        #expect(head(&stray, status: 101) == .dropInterim)
    }

    struct ResponseCase: CustomTestStringConvertible, Sendable {
        let name: String
        var minor = 1
        var clientKeepAlive = true
        var upstreamKeepAlive = true
        var untilClose = false
        var chunked = false
        var requestEnded = true
        let begin: ConnectionStateMachine.AfterResponseHead
        let completion: ConnectionStateMachine.Completion
        var testDescription: String { name }
    }

    static let responseCases: [ResponseCase] = [
        .init(
            name: "keep-alive both ways: upstream pooled, client kept", begin: .begin(closing: false, dechunk: false),
            completion: .init(poolUpstream: true, closeClient: false, clientStillSending: false)),
        .init(
            name: "a close-delimited response closes both", untilClose: true, begin: .begin(closing: true, dechunk: false),
            completion: .init(poolUpstream: false, closeClient: true, clientStillSending: false)),
        .init(
            name: "upstream says close: client kept, upstream closed", upstreamKeepAlive: false,
            begin: .begin(closing: false, dechunk: false),
            completion: .init(poolUpstream: false, closeClient: false, clientStillSending: false)
        ),
        .init(
            name: "client says close", clientKeepAlive: false, begin: .begin(closing: true, dechunk: false),
            completion: .init(poolUpstream: true, closeClient: true, clientStillSending: false)),
        .init(
            name: "HTTP/1.0 keep-alive is kept", minor: 0, begin: .begin(closing: false, dechunk: false),
            completion: .init(poolUpstream: true, closeClient: false, clientStillSending: false)),
        .init(
            name: "HTTP/1.0 without keep-alive closes", minor: 0, clientKeepAlive: false, begin: .begin(closing: true, dechunk: false),
            completion: .init(poolUpstream: true, closeClient: true, clientStillSending: false)),
        .init(
            name: "chunked to HTTP/1.0 is dechunked and ends with the close", minor: 0, chunked: true,
            begin: .begin(closing: true, dechunk: true), completion: .init(poolUpstream: true, closeClient: true, clientStillSending: false)
        ),
        .init(
            name: "an early answer while the body still arrives: both close, lingering", requestEnded: false,
            begin: .begin(closing: true, dechunk: false),
            completion: .init(poolUpstream: false, closeClient: true, clientStillSending: true)),
    ]

    @Test(arguments: responseCases) func responses(_ row: ResponseCase) {
        var machine = sent(ended: row.requestEnded)
        let begin = head(
            &machine, minor: row.minor, clientKeepAlive: row.clientKeepAlive, upstreamKeepAlive: row.upstreamKeepAlive,
            untilClose: row.untilClose, chunked: row.chunked)
        #expect(begin == row.begin)
        #expect(machine.upstreamClosed() == (row.untilClose ? .responseEnded : .failed))
        #expect(machine.responseEnded(leftover: false, now: at(1)) == row.completion)
        #expect(machine.isLingering == row.completion.closeClient)
        #expect(machine.isIdle == !row.completion.closeClient)
    }

    @Test func leftoverBytesAfterAResponseRetireTheUpstream() {
        var machine = sent()
        _ = head(&machine)
        #expect(
            machine.responseEnded(leftover: true, now: at(1)) == .init(poolUpstream: false, closeClient: false, clientStillSending: false))
    }

    @Test func anIdleUpstreamClosingIsNothingToReport() {
        let idle = Machine(limits: Self.limits, now: at(0))
        #expect(idle.upstreamClosed() == .forget)
        var connecting = Machine(limits: Self.limits, now: at(0))
        connecting.requestBegan(ended: true, now: at(0))
        connecting.connecting()
        #expect(connecting.upstreamClosed() == .forget)
    }

    // MARK: Pipelining and local answers

    @Test func aPipelinedRequestWaitsUntilTheResponseBeforeItHasEnded() {
        var machine = Machine(limits: Self.limits, now: at(0))
        #expect(!machine.holdsClientBytes(holdingBody: false))
        machine.requestBegan(ended: false, now: at(0))
        // Body bytes of the request in flight are read...
        #expect(!machine.holdsClientBytes(holdingBody: false))
        // ...but not while its allowance is full...
        #expect(machine.holdsClientBytes(holdingBody: true))
        machine.requestSent(reused: false, bodyWritten: false, now: at(0))
        machine.requestEnded(now: at(1))
        // ...and once it has all arrived, what follows is the next request: it waits.
        #expect(machine.holdsClientBytes(holdingBody: false))
        _ = head(&machine)
        #expect(machine.holdsClientBytes(holdingBody: false))
        _ = machine.responseEnded(leftover: false, now: at(2))
        #expect(!machine.holdsClientBytes(holdingBody: false))
    }

    struct LocalCase: CustomTestStringConvertible, Sendable {
        let name: String
        var request = true
        var ended = true
        var sent = false
        var close = false
        var clientKeepAlive = true
        let expected: ConnectionStateMachine.LocalAnswer
        var testDescription: String { name }
    }

    static let localCases: [LocalCase] = [
        .init(name: "a page on keep-alive", expected: .init(closing: false, clientStillSending: false, dropUpstream: false)),
        .init(name: "an error that closes", close: true, expected: .init(closing: true, clientStillSending: false, dropUpstream: false)),
        .init(
            name: "the client asked to close", clientKeepAlive: false,
            expected: .init(closing: true, clientStillSending: false, dropUpstream: false)),
        .init(
            name: "an answer before the body arrived: lingering close", ended: false,
            expected: .init(closing: true, clientStillSending: true, dropUpstream: false)),
        .init(
            name: "504 abandons the attempt under way", sent: true,
            expected: .init(closing: false, clientStillSending: false, dropUpstream: true)),
        .init(
            name: "nothing parsed yet (a stalled head)", request: false,
            expected: .init(closing: true, clientStillSending: true, dropUpstream: false)),
    ]

    @Test(arguments: localCases) func localAnswers(_ row: LocalCase) {
        var machine = Machine(limits: Self.limits, now: at(0))
        if row.request { machine.requestBegan(ended: row.ended, now: at(0)) }
        if row.sent { machine.requestSent(reused: false, bodyWritten: false, now: at(0)) }
        #expect(machine.answerLocally(close: row.close, clientKeepAlive: row.clientKeepAlive, now: at(1)) == row.expected)
        #expect(machine.isLingering == row.expected.closing)
    }
}
