import Foundation
import NIOCore
import NIOHTTP1

/// Answers devhost writes itself: its built-in endpoints, error pages, and the closes that follow
/// them.
extension ProxyHandler {
    func builtIn(_ head: HTTPHead) {
        let uri = head.targetString
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        switch path {
        case "/_devhost/health":
            respond(.ok, contentType: "application/json", body: ProxyPages.health(context: shared))
        case "/_devhost/metrics":
            var text = shared.metrics.prometheus()
            if let log = shared.accessLog {
                text +=
                    "# HELP devhost_proxy_access_log_dropped_total Access-log lines dropped because the terminal or disk was slower than the traffic.\n"
                text +=
                    "# TYPE devhost_proxy_access_log_dropped_total counter\ndevhost_proxy_access_log_dropped_total \(log.droppedLines)\n"
            }
            respond(.ok, contentType: "text/plain; version=0.0.4", body: text)
        default:
            writeSimple(.notFound, message: "\(path) is not a devhost endpoint (try /_devhost/health or /_devhost/metrics)", close: false)
        }
    }

    func isOwnUser(_ channel: Channel) -> Bool {
        if let ownUser { return ownUser }
        var verdict = false
        if let remote = channel.remoteAddress, let local = channel.localAddress {
            let ip = remote.ipAddress ?? ""
            let loopback = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
            verdict = loopback && PeerUser.uid(client: remote, server: local) == getuid()
        }
        ownUser = verdict
        return verdict
    }

    func writeSimple(_ status: HTTPResponseStatus, message: String, close: Bool) {
        let json = exchange?.head.wantsJSON ?? false
        let (type, body) = ProxyPages.error(
            status, message, json: json, requestID: (exchange?.requestID ?? RequestID(generated: random.next())).string)
        respond(status, contentType: type, body: body, close: close)
    }

    /// Writes a whole response of devhost's own; whether the connection closes afterwards is the
    /// machine's call.
    func respond(
        _ status: HTTPResponseStatus, contentType: String, body: String, close: Bool = false, location: String? = nil, fault: String? = nil
    ) {
        guard let context else { return }
        let current = exchange
        let minor = current?.head.minor ?? 1
        var finished = NIODeadline.now()
        if let done = current {
            done.status = Int(status.code)
            done.bytes = body.utf8.count
            finished = finish(done)
        }
        let answer = machine.answerLocally(close: close, clientKeepAlive: current?.head.keepAlive ?? false, now: finished)
        var out = allocator.buffer(capacity: body.utf8.count + 256)
        out.writeString(
            "HTTP/1.\(minor) \(status.code) \(status.reasonPhrase)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\nCache-Control: no-store\r\n"
        )
        if let location { out.writeString("Location: \(location)\r\n") }
        if let fault { out.writeString("X-Devhost-Fault: \(fault)\r\n") }
        if let id = current?.requestID {
            out.writeStaticString("X-Request-ID: ")
            id.write(into: &out)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString(answer.closing ? "Connection: close\r\n\r\n" : (minor == 0 ? "Connection: keep-alive\r\n\r\n" : "\r\n"))
        if current?.isHEAD != true { out.writeString(body) }
        current?.inspected?.answeredLocally(out, status: Int(status.code))
        release(current)
        exchange = nil
        // Any upstream attempt still under way for this request is abandoned.
        if answer.dropUpstream { dropUpstream() }
        if answer.closing {
            closeAfterWrites(out, clientStillSending: answer.clientStillSending)
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            // Pipelined requests behind this one, outside the current call stack.
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute {
                handler.value.process()
                handler.value.resumeClientReads()
            }
        }
    }

    /// `proxy.https: prefer` once the CA is trusted: a browser navigation (GET asking for HTML) on
    /// plain HTTP goes to the same URL on the HTTPS port. API clients (other methods, other `Accept`)
    /// are never redirected. 307, not 308: a browser keeps a permanent redirect even after HTTPS
    /// is turned off again.
    func redirectsToHTTPS(_ head: HTTPHead, route: ResolvedRoute) -> Bool {
        let port = shared.httpsRedirectPort
        guard port != 0, !secure, !route.keepsHTTP, head.methodIs("GET"), let accept = head.value(.accept), accept.contains("text/html")
        else {
            return false
        }
        let host = route.host
        let bare = host.hasPrefix("[") || !host.contains(":") ? host : "[\(host)]"
        respond(
            .temporaryRedirect, contentType: "text/plain; charset=utf-8", body: "HTTPS: https://\(bare):\(port)\(head.targetString)\n",
            location: "https://\(bare):\(port)\(head.targetString)")
        return true
    }

    /// Writes the last bytes, then closes (the machine is already lingering). A client that may
    /// still be sending (an upload answered early) gets a lingering close: the write side is shut
    /// and its input read and dropped for a moment, because closing a socket with unread input
    /// sends a reset that can destroy the answer before the client has read it.
    func closeAfterWrites(_ last: ByteBuffer, clientStillSending: Bool) {
        guard let context else { return }
        inbound = nil
        let written = context.writeAndFlush(wrapOutboundOut(last))
        let channel = context.channel
        if readPending {
            readPending = false
            context.read()
        }
        if clientStillSending {
            written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        } else {
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// A head buffer written once per request is cleared and filled again (an allocation per head
    /// is measurable). Its storage is reused once the socket has let go of the last one (`clear`
    /// gives a fresh buffer otherwise); an outsized one is not kept.
    func prepare(_ buffer: inout ByteBuffer) {
        if buffer.capacity > 32 * 1024 {
            buffer = allocator.buffer(capacity: 1024)
        } else {
            buffer.clear()
        }
    }
}
