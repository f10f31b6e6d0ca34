import ArgumentParser
import DevhostManifest
import DevhostProxy
import DevhostRuntime
import Foundation

/// Proxy settings shared by `devhost up` and `devhost proxy`.
struct ProxyOptions: ParsableArguments {
    @Option(name: .customLong("proxy-port"), help: "The proxy's port (default: proxy.port in devhost.yml, $DEVHOST_PROXY_PORT, or 7777).")
    var port: Int?

    @Option(name: .customLong("log-format"), help: "Access log: human, json or off.")
    var logFormat: ProxyContext.AccessLogFormat = .human

    @Option(name: .customLong("access-log"), help: "Append the access log to this file instead of the terminal.")
    var accessLogPath: String?

    @Option(name: .customLong("wait"), help: "How long a request waits for a healthy instance before 503 (e.g. 10s).")
    var wait: String = "10s"

    @Option(
        name: .customLong("read-timeout"),
        help: "How long a response may stall mid-way before both connections are closed (e.g. 60s).")
    var readTimeout: String = "60s"

    func resolvedPort(manifestPort: Int?, default fallback: Int = ProxySettings.defaultPort) throws -> Int {
        if let port { return port }
        if let text = ProcessInfo.processInfo.environment["DEVHOST_PROXY_PORT"] {
            guard let port = Int(text), (1...65535).contains(port) else {
                throw CommandFailure(message: "DEVHOST_PROXY_PORT=\(text) is not a port number")
            }
            return port
        }
        return manifestPort ?? fallback
    }

    enum Placement {
        /// Register with the shared edge proxy on its port.
        case shared(EdgePaths)
        /// A proxy of the project's own on this port (CI, tests, a LAN bind).
        case isolated(Int)
    }

    /// Shared unless something asks for a port other than the edge's (`--proxy-port`,
    /// $DEVHOST_PROXY_PORT, `proxy.port` other than 7777) or a bind other than loopback.
    func placement(manifest: Manifest) throws -> Placement {
        let edgePort: Int
        do { edgePort = try EdgePaths.port() } catch { throw CommandFailure(message: error.description) }
        let manifestPort = manifest.proxy.port == ProxySettings.defaultPort ? nil : manifest.proxy.port
        let port = try resolvedPort(manifestPort: manifestPort, default: edgePort)
        if port != edgePort || manifest.proxy.bind != "127.0.0.1" { return .isolated(port) }
        return .shared(EdgePaths(port: edgePort))
    }

    func settings() throws -> ProxyContext.Settings {
        var settings = ProxyContext.Settings()
        guard let wait = DurationText.parse(self.wait) else { throw CommandFailure(message: "--wait \(self.wait) is not a duration") }
        settings.waitForHealthy = wait
        guard let read = DurationText.parse(readTimeout), read > .zero else {
            throw CommandFailure(message: "--read-timeout \(readTimeout) is not a duration")
        }
        settings.upstreamReadTimeout = read
        settings.accessLog = logFormat
        return settings
    }
}

extension ProxyOptions {
    /// The access log: nil when off, the file when `--access-log` names one, else the terminal.
    func accessLog(terminal: LogOutput) throws -> AccessLog? {
        guard logFormat != .off else { return nil }
        guard let accessLogPath else { return AccessLog(format: logFormat, destination: .output(terminal)) }
        do {
            return try AccessLog(format: logFormat, path: accessLogPath)
        } catch {
            throw CommandFailure(message: error.description)
        }
    }
}

extension ProxyContext.AccessLogFormat: ExpressibleByArgument {}
