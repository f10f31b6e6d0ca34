import NIOCore
import NIOHPACK
import NIOHTTP2

/// A fault on one relayed stream (`devhost fault`): drawn once when the stream is claimed, only
/// while some fault is installed (otherwise the stream pays the table's one atomic load).
/// Loop-confined, like the relay.
final class HTTP2RelayFault {
    let rule: FaultRule
    let decision: FaultDecision
    /// Paces the response's DATA under a bandwidth fault.
    var pacer: FaultPacer?
    /// Response frames waiting for the pace, in order (trailers wait behind the data before them).
    var held = CircularBuffer<HTTP2Frame.FramePayload>()
    /// The upstream stream ended while frames were held: its end is handled once they have gone.
    var closedWhileHeld = false

    init(rule: FaultRule, decision: FaultDecision) {
        self.rule = rule
        self.decision = decision
        if decision.bytesPerSecond > 0 { pacer = FaultPacer(bytesPerSecond: decision.bytesPerSecond) }
    }

    /// The rule for the service's name and the client's `:path` (before a path route strips its
    /// prefix, as on HTTP/1.1) decides; nil when none applies or its draw leaves the stream alone.
    static func decide(origin: HTTP2Origin, service: String, path: String) -> HTTP2RelayFault? {
        let (_, set) = origin.shared.instances.faults.snapshot()
        guard let rule = set.rule(service: service, target: path, now: FaultTable.now) else { return nil }
        var random = origin.nextGenerator()
        return rule.decide(using: &random).map { HTTP2RelayFault(rule: rule, decision: $0) }
    }
}

extension HTTP2Relay {
    /// Latency first (scheduled, never slept), then what the fault does: forward (perhaps paced),
    /// answer its error, or reset the stream.
    func startFault(_ context: ChannelHandlerContext) {
        guard let fault else { return connect() }
        let relay = NIOLoopBound(self, eventLoop: context.eventLoop)
        let act: @Sendable () -> Void = {
            let this = relay.value
            guard this.context != nil, this.machine.phase == .requesting else { return }
            this.carryOutFault()
        }
        // Never from here, even with no delay: the relay is being added while the bridge is still
        // in the pipeline (`takeOver`), and an answer written now would pass through the bridge.
        if fault.decision.delayNanoseconds == 0 { return context.eventLoop.execute(act) }
        context.eventLoop.scheduleTask(in: .nanoseconds(fault.decision.delayNanoseconds), act)
    }

    private func carryOutFault() {
        guard let fault else { return connect() }
        let rule = fault.rule
        switch fault.decision.outcome {
        case .forward:
            connect()
        case .error(let status):
            // A gRPC client gets the status a gRPC client reads from that HTTP status (503 is
            // UNAVAILABLE) in a trailers-only answer; another client the status itself.
            let message = "fault \(rule.id): \(status) injected (devhost fault clear \(rule.service))"
            perform(machine.handle(.faultError(status: status, message: message)))
        case .reset:
            perform(machine.handle(.faultReset))
        }
    }

    /// Frames held back by a bandwidth fault: upstream reads wait for them to go.
    var pacedHolding: Bool { fault.map { !$0.held.isEmpty } ?? false }

    /// A response frame under a bandwidth fault joins the queue, and what the pace allows goes.
    func pace(_ frame: HTTP2Frame.FramePayload) {
        fault?.held.append(frame)
        drainPaced()
    }

    /// Sends held frames as far as the pacer allows; past that, stops reading the upstream and
    /// wakes when more may go. Headers (the head, the trailers) are not paced, only DATA.
    func drainPaced() {
        guard let context, let fault, var pacer = fault.pacer else { return }
        while let frame = fault.held.first {
            if case .data(var data) = frame, case .byteBuffer(var bytes) = data.data, bytes.readableBytes > 0 {
                let granted = pacer.take(bytes.readableBytes, now: NIODeadline.now().uptimeNanoseconds)
                if granted < bytes.readableBytes {
                    if granted > 0, let part = bytes.readSlice(length: granted) {
                        deliver(.data(.init(data: .byteBuffer(part))))
                        data.data = .byteBuffer(bytes)
                        fault.held[fault.held.startIndex] = .data(data)
                    }
                    upstream?.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                    if !pacer.waking {
                        pacer.waking = true
                        let wake = NIODeadline.uptimeNanoseconds(pacer.due(wanted: bytes.readableBytes))
                        let relay = NIOLoopBound(self, eventLoop: context.eventLoop)
                        context.eventLoop.scheduleTask(deadline: wake) { relay.value.wakePaced() }
                    }
                    fault.pacer = pacer
                    context.flush()
                    return
                }
            }
            fault.held.removeFirst()
            deliver(frame)
        }
        fault.pacer = pacer
        context.flush()
        if fault.closedWhileHeld, let channel = upstream {
            fault.closedWhileHeld = false
            return upstreamClosed(channel)
        }
        if context.channel.isWritable, let upstream {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            upstream.read()
        }
    }

    private func wakePaced() {
        guard context != nil, let fault else { return }
        fault.pacer?.waking = false
        drainPaced()
    }
}
