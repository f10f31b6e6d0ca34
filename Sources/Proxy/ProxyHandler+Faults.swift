import Foundation
import NIOCore
import NIOHTTP1

extension SplitMix64: RandomNumberGenerator {}

/// Fault injection on the proxy's requests (`FaultTable`): latency before forwarding, a local error
/// answer, a reset of the client's connection, a paced response body. Reached only while some
/// fault is installed; the rules are read from the connection's copy of the table's set.
extension ProxyHandler {
    /// A request, while faults are installed: the rule for its route's name (a service, or a
    /// standalone route's host) decides. True when a fault took the request over (it goes on
    /// later, or never reaches the upstream).
    func injectFault(_ route: ResolvedRoute, _ head: HTTPHead) -> Bool {
        guard let context, let current = exchange else { return false }
        let table = shared.instances.faults
        if faults?.generation != table.generation { faults = table.snapshot() }
        guard let set = faults?.set else { return false }
        let now = self.now.uptimeNanoseconds
        let rule = head.bytes.withUnsafeReadableBytes { set.rule(service: route.label, $0, head.target, now: now) }
        guard let rule, let decision = rule.decide(using: &random) else { return false }
        current.fault = decision
        if decision.bytesPerSecond > 0 { current.pacer = FaultPacer(bytesPerSecond: decision.bytesPerSecond) }
        if decision.delayNanoseconds == 0 {
            carryOut(decision, rule: rule)
            return true
        }
        // Scheduled, never slept: the loop keeps serving its other connections meanwhile.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let waiting = NIOLoopBound(current, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .nanoseconds(decision.delayNanoseconds)) {
            let this = handler.value
            guard this.context != nil, this.exchange === waiting.value else { return }
            this.carryOut(decision, rule: rule)
        }
        return true
    }

    private func carryOut(_ decision: FaultDecision, rule: FaultRule) {
        switch decision.outcome {
        case .forward:
            connect()
        case .error(let status):
            respond(
                HTTPResponseStatus(statusCode: status), contentType: "text/plain; charset=utf-8",
                body: "devhost fault \(rule.id) on \(rule.service): \(status) injected (devhost fault clear \(rule.service))\n",
                fault: rule.id)
        case .reset:
            resetClient()
        }
    }

    /// Ends the client's connection with a TCP reset (SO_LINGER 0), as a crashed server or a
    /// middlebox would; an HTTP/2 stream is reset on its own (RST_STREAM).
    private func resetClient() {
        guard let context else { return }
        release(exchange)
        exchange = nil
        inbound = nil
        dropUpstream()
        machine.closed()
        let channel = context.channel
        guard origin == nil, let socket = channel as? SocketOptionProvider else { return context.close(promise: nil) }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A paced response: keeps what may not go yet in `upstreamInbound` (leaving in `buffer` what
    /// may), stops reading the upstream and wakes when more may go. True when nothing may go now.
    func holdBack(_ buffer: inout ByteBuffer, _ current: ProxyExchange, _ handler: UpstreamHandler) -> Bool {
        guard var pacer = current.pacer, let context else { return false }
        defer { current.pacer = pacer }
        let now = NIODeadline.now().uptimeNanoseconds
        let granted = pacer.take(buffer.readableBytes, now: now)
        if granted == buffer.readableBytes { return false }
        var rest = buffer.getSlice(at: buffer.readerIndex + granted, length: buffer.readableBytes - granted)!
        if var later = upstreamInbound { rest.writeBuffer(&later) }
        upstreamInbound = rest
        buffer.moveWriterIndex(to: buffer.readerIndex + granted)
        handler.pauseReading()
        if !pacer.waking {
            pacer.waking = true
            let wake = NIODeadline.uptimeNanoseconds(pacer.due(wanted: rest.readableBytes))
            let this = NIOLoopBound(self, eventLoop: context.eventLoop)
            let paced = NIOLoopBound(current, eventLoop: context.eventLoop)
            let reader = NIOLoopBound(handler, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(deadline: wake) { this.value.resumePaced(paced.value, reader.value) }
        }
        return granted == 0
    }

    private func resumePaced(_ current: ProxyExchange, _ handler: UpstreamHandler) {
        guard exchange === current, upstream?.handler === handler, let context else { return }
        current.pacer?.waking = false
        upstreamRead(ByteBuffer(), from: handler)
        // No upstream read completes here to flush what went out (`upstreamReadComplete`).
        if let flushes { flushes.flush(context) }
        guard exchange === current, upstreamInbound == nil else { return }
        if current.pacer?.upstreamClosed == true {
            current.pacer?.upstreamClosed = false
            upstreamClosed(handler)
        } else if context.channel.isWritable {
            handler.resumeReading()
        }
    }

    /// The upstream closed with paced bytes still held back: its close waits for them.
    func closeWaitsForPacing() -> Bool {
        guard let current = exchange, current.pacer != nil, upstreamInbound != nil, machine.responseStarted else { return false }
        current.pacer?.upstreamClosed = true
        return true
    }
}
