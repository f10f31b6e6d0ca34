import DevhostManifest
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request's start on a client connection: its id, its route (from the connection's cache or one
/// lookup), the refusals, devhost's own answers and faults before it goes upstream; and its end:
/// the in-flight count released, the metrics, the inspector and the access log.
extension ProxyHandler {
    func begin(_ head: HTTPHead) {
        guard context != nil else { return }
        // A client's id is kept only when it is a plain token: it goes into log lines and pages.
        let sent = head.first(.xRequestID).flatMap { field in
            RequestID.isPlain(head, field.value)
                ? head.bytes.getSlice(at: head.bytes.readerIndex + field.value.lowerBound, length: field.value.count) : nil
        }
        let requestID = RequestID(sent: sent, generated: sent == nil ? random.next() : 0)
        let time = now
        // The connection's last host was valid when it was looked up: its bytes need no new check.
        let cached = cachedRoute(head)
        let refusal = RequestRefusal.check(head, allowTrace: shared.settings.allowTrace, hostKnownValid: cached != nil)
        if let refusal {
            // A refused head's host is only logged: never looked up, never kept for the next request.
            let route = ResolvedRoute(
                header: [], generation: -1, host: head.host.map { head.string($0) } ?? "", target: nil,
                inspected: shared.routes.inspectsUnrouted)
            exchange = ProxyExchange(head: head, route: route, requestID: requestID, requestBody: .none, now: time)
            inspect(exchange!)
            machine.requestBegan(ended: true, now: time)
            return writeSimple(refusal.status, message: refusal.message, close: true)
        }
        // One lookup per head: the host's routes come from the connection's cache, and only a host
        // with path routes compares the target with its prefixes.
        let route = (cached ?? resolve(head)).route(for: head)
        guard let framing = BodyFraming.request(head) else {
            exchange = ProxyExchange(head: head, route: route.unrouted, requestID: requestID, requestBody: .none, now: time)
            inspect(exchange!)
            machine.requestBegan(ended: true, now: time)
            return writeSimple(.badRequest, message: "the request body's length is ambiguous", close: true)
        }
        exchange = ProxyExchange(head: head, route: route, requestID: requestID, requestBody: framing, now: time)
        inspect(exchange!)
        machine.requestBegan(ended: framing.isDone, now: time)

        // Devhost's own answers, and the list of routes, only for hosts it serves: a page on
        // another name that resolves to 127.0.0.1 (DNS rebinding) learns nothing from them.
        if head.targetStartsWithReservedPrefix, shared.serves(host: route.host) {
            return builtIn(head)
        }
        if route.target != nil, redirectsToHTTPS(head, route: route) { return }
        guard route.target != nil else {
            let serves = shared.serves(host: route.host)
            // A host with paths only: the path is what has no route.
            let missing = route.paths.isEmpty ? route.host : route.host + (head.string(head.target).split(separator: "?").first ?? "")
            let (type, body) = ProxyPages.notFound(
                host: missing, routes: serves ? shared.routes.all : [], note: serves ? shared.explainMissing(route.host) : nil,
                port: (context?.channel.localAddress?.port) ?? 0, secure: secure, json: head.wantsJSON, requestID: requestID.string)
            return respond(.notFound, contentType: type, body: body)
        }
        if !shared.instances.faults.isEmpty, injectFault(route, head) { return }
        connect()
    }

    func cachedRoute(_ head: HTTPHead) -> ResolvedRoute? {
        guard let lastRoute, let field = head.host, lastRoute.generation == shared.routes.generation,
            head.bytesEqual(field, lastRoute.header)
        else { return nil }
        return lastRoute
    }

    func resolve(_ head: HTTPHead) -> ResolvedRoute {
        let field = head.host ?? 0..<0
        // Read before the lookup: a change in between then only makes the next request look again.
        let generation = shared.routes.generation
        let (host, routes) = shared.routes.lookup(hostHeader: head.string(field))
        let route = ResolvedRoute(
            header: head.byteArray(field), generation: generation, host: host, target: routes?.catchAll, paths: routes?.prefixes ?? [],
            inspected: routes?.inspected ?? shared.routes.inspectsUnrouted, keepsHTTP: routes?.keepsHTTP ?? false)
        lastRoute = route
        origin?.lastRoute = route
        return route
    }

    /// Ends the in-flight count of a request (see `ProxyExchange.counted`).
    func release(_ current: ProxyExchange?) {
        guard let current, let counted = current.counted else { return }
        shared.instances.ended(service: counted.service, instance: counted.instance)
        current.counted = nil
    }

    /// Records a finished exchange; returns the time it finished.
    @discardableResult
    func finish(_ done: ProxyExchange) -> NIODeadline {
        let finished = NIODeadline.now()
        let nanoseconds = (finished - done.started).nanoseconds
        let counters: ProxyMetrics.Route
        if let cached = done.route.counters {
            counters = cached
        } else {
            counters = shared.metrics.route(done.routeLabel)
            done.route.counters = counters
        }
        shared.metrics.record(counters, status: done.status, seconds: Double(nanoseconds) / 1e9)
        done.inspected?.finished(status: done.status, instance: done.instance, at: finished)
        accessLines?.record(
            method: done.head.methodBytes, host: done.host, target: done.head.targetBytes, status: done.status, bytes: done.bytes,
            nanoseconds: nanoseconds, requestID: done.requestID, instance: done.instance)
        return finished
    }
}
