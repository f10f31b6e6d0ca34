import DevhostManifest
import Foundation
import NIOHTTP1

/// Responses devhost writes itself: unknown host, no healthy instance, errors, built-in endpoints.
enum ProxyPages {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func html(title: String, body: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font:15px/1.5 system-ui,sans-serif;margin:3em auto;max-width:46em;color:#222}code,pre{background:#f4f4f4;padding:.1em .3em}pre{padding:1em;overflow:auto}a{color:#0b63c5}</style>
        </head><body>\(body)</body></html>

        """
    }

    static func notFound(
        host: String, routes: [ProxyRoutes.Route], note: String? = nil, port: Int, secure: Bool = false, json: Bool, requestID: String
    ) -> (String, String) {
        let scheme = secure ? "https" : "http"
        if json {
            let list = JSONValue.array(routes.map { .string("\(scheme)://\($0.host):\(port)\($0.path ?? "/")") })
            var fields: [(String, JSONValue)] = [("error", .string(note ?? "no route for \(host)")), ("routes", list)]
            if note != nil { fields.append(("not_running", .bool(true))) }
            let body = JSONValue.object(fields + [("request_id", .string(requestID))]).serialized()
            return ("application/json", body)
        }
        let items = routes.map { route in
            let path = route.path ?? "/"
            let strip = route.stripPrefix ? " <small>(prefix stripped)</small>" : ""
            return
                "<li><a href=\"\(scheme)://\(escape(route.host)):\(port)\(escape(path))\">\(escape(route.host))\(escape(route.path ?? ""))</a>\(strip)</li>"
        }.joined()
        return (
            "text/html; charset=utf-8",
            html(
                title: note == nil ? "No route for \(host)" : "\(host) is not running",
                body: (note.map { "<h1><code>\(escape(host))</code> is not running</h1><p>\(escape($0))</p>" }
                    ?? "<h1>No route for <code>\(escape(host))</code></h1>")
                    + "<p>devhost serves these hosts:</p><ul>\(items.isEmpty ? "<li>none yet</li>" : items)</ul><p><small>request \(escape(requestID))</small></p>"
            )
        )
    }

    static func unavailable(service: String, state: String, lines: [String], json: Bool, requestID: String) -> (String, String) {
        if json {
            let body = JSONValue.object([
                ("error", .string("no healthy instance of \(service)")), ("service", .string(service)), ("state", .string(state)),
                ("last_lines", .array(lines.map(JSONValue.string))), ("request_id", .string(requestID)),
            ]).serialized()
            return ("application/json", body)
        }
        let log = lines.isEmpty ? "<p>No output yet.</p>" : "<pre>\(escape(lines.joined(separator: "\n")))</pre>"
        return (
            "text/html; charset=utf-8",
            html(
                title: "\(service) is not available",
                body:
                    "<h1><code>\(escape(service))</code> has no healthy instance</h1><p>State: \(escape(state))</p><h2>Last lines</h2>\(log)<p><small>request \(escape(requestID))</small></p>"
            )
        )
    }

    static func error(_ status: HTTPResponseStatus, _ message: String, json: Bool, requestID: String) -> (String, String) {
        if json {
            return ("application/json", JSONValue.object([("error", .string(message)), ("request_id", .string(requestID))]).serialized())
        }
        return (
            "text/html; charset=utf-8",
            html(
                title: "\(status.code) \(status.reasonPhrase)",
                body:
                    "<h1>\(status.code) \(escape(status.reasonPhrase))</h1><p>\(escape(message))</p><p><small>request \(escape(requestID))</small></p>"
            )
        )
    }

    static func health(context: ProxyContext) -> String {
        JSONValue.object([
            ("status", .string("ok")),
            (
                "routes",
                .array(
                    context.routes.all.map { route in
                        var pairs: [(String, JSONValue)] = [("host", .string(route.host))]
                        if let path = route.path { pairs += [("path", .string(path)), ("strip_prefix", .bool(route.stripPrefix))] }
                        switch route.target {
                        case .service(let name, _):
                            let healthy = context.instances.healthy(name)
                            pairs += [
                                ("service", .string(name)),
                                ("state", .string(context.describe(name).state)),
                                (
                                    "healthy",
                                    .array(healthy.map { .object([("instance", .string($0.instance)), ("port", .int($0.port))]) })
                                ),
                            ]
                        case .address(let host, let port):
                            pairs += [("target", .string("\(host):\(port)"))]
                        case .socket:
                            pairs += [("target", .string("devhost"))]
                        }
                        return .object(pairs)
                    })
            ),
        ]).serialized(pretty: true) + "\n"
    }
}
