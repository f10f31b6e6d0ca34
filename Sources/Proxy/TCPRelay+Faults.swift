import Foundation
import NIOCore

/// Faults on a service's stable TCP port, for clients that are not HTTP: a connection waits the
/// fault's latency before it is relayed, or is reset (SO_LINGER 0) at once, and a bandwidth limit
/// paces both directions of it, each to the limit. Only rules without a path apply (a byte stream
/// has none); an error status has no meaning here and is not injected. The rule is read when a
/// connection arrives: one installed or cleared later applies to later connections.
extension RelayConnector {
    func fault() -> FaultDecision? {
        let (_, set) = routes.faults.snapshot()
        guard let rule = set.rule(service: service, target: "", now: FaultTable.now) else { return nil }
        var random = SystemRandomNumberGenerator()
        return rule.decide(using: &random)
    }

    func injectFault(_ fault: FaultDecision, context: ChannelHandlerContext) {
        let channel = context.channel
        let connector = NIOLoopBound(self, eventLoop: context.eventLoop)
        let act: @Sendable () -> Void = {
            guard channel.isActive else { return }
            if fault.outcome == .reset, let socket = channel as? SocketOptionProvider {
                socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                connector.value.relay(channel, bytesPerSecond: fault.bytesPerSecond)
            }
        }
        if fault.delayNanoseconds == 0 { return act() }
        context.eventLoop.scheduleTask(in: .nanoseconds(fault.delayNanoseconds)) { act() }
    }
}
