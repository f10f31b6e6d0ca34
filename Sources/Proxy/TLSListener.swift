import DevhostManifest
import DevhostTLS
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The HTTPS side of a proxy: its port and the TLS context whose certificates the local CA issues
/// by SNI (Sources/TLS). Every connection on that port is TLS; ALPN picks HTTP/2 or HTTP/1.1, and
/// both end in the same `ProxyHandler` as plain HTTP, told the connection is secure.
public struct ProxyTLS: Sendable {
    /// `proxy.https_port`, `--https-port` and `$DEVHOST_EDGE_HTTPS_PORT` default to this; 0 is off.
    public static let defaultPort = 7443

    public var port: Int
    public let sslContext: NIOSSLContext

    public init(port: Int, sslContext: NIOSSLContext) {
        self.port = port
        self.sslContext = sslContext
    }

    /// The listener's TLS for the user's CA in `files` (made now when it does not exist yet),
    /// permitting `domain` besides localhost. A handshake for a name outside the CA's constraints is
    /// refused and said once on `log` (`TLS handshake refused: … sni=www.example.com`).
    public static func make(port: Int, files: LocalCAFiles, domain: String, log: (any LogTerminal)?) throws -> ProxyTLS {
        let extra = domain == "localhost" || domain.hasSuffix(".localhost") ? [] : [domain]
        let ca = try LocalCA.loadOrCreate(files: files, scope: try NameScope(extraDomains: extra))
        var logger = Logger(label: "proxy", factory: { _ in TerminalLogHandler(log: log) })
        logger.logLevel = .warning
        let context = try TLSServerConfiguration.makeContext(issuer: CertificateIssuer(ca: ca), logger: logger)
        return ProxyTLS(port: port, sslContext: context)
    }

    /// Whether `devhost trust` put the CA in at least one store (its record says so): only then
    /// does `proxy.https: prefer` send browsers to HTTPS, where they would otherwise get an error.
    public static func caTrusted(environment: [String: String]) -> Bool {
        guard let files = LocalCAFiles(environment: environment), let record = try? TrustRecord.load(files) else { return false }
        return !record.entries.isEmpty
    }

    /// A new connection on the HTTPS listener: TLS first, then, once ALPN has spoken, either the
    /// proxy handler (HTTP/1.1, or no ALPN) or HTTP/2 with a proxy handler per stream, bridged.
    static func configureSecure(_ channel: Channel, shared: ProxyContext, tls: NIOSSLContext) -> EventLoopFuture<Void> {
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), name: "tls")
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2SecureUpgrade(
            h2ChannelConfigurator: { channel in
                channel.eventLoop.makeCompletedFuture { try configureHTTP2(channel, shared: shared, secure: true) }
            },
            http1ChannelConfigurator: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(shared: shared, secure: true), name: "proxy")
                }
            })
    }
}

extension ProxyTLS {
    /// HTTP/2 on a connection (after ALPN `h2`, or with prior knowledge on the plain listener): a
    /// stream is bridged to a proxy handler of its own; its end-of-tick flushes reach the socket as one.
    static func configureHTTP2(_ channel: Channel, shared: ProxyContext, secure: Bool) throws {
        let origin = HTTP2Origin(channel: channel, shared: shared, secure: secure)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(HTTP2ConnectionFlush(origin: origin))
        _ = try operations.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: HTTP2Bridge.serverConnectionConfiguration,
            streamConfiguration: HTTP2Bridge.streamConfiguration
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let operations = stream.pipeline.syncOperations
                try operations.addHandler(HTTP2Bridge(origin: origin))
                try operations.addHandler(ProxyHandler(shared: shared, origin: origin), name: "proxy")
            }
        }
        try operations.addHandler(HTTP2ConnectionErrors())
    }
}

/// Which HTTPS port a listener asks for, and whether it was asked for by name: a port from a flag,
/// a variable or the manifest that cannot be served is an error; the default (7443) that cannot be
/// served (another proxy holds it) only means no HTTPS, said once.
public struct HTTPSPort: Sendable, Equatable {
    /// 0: no HTTPS.
    public var port: Int
    public var explicit: Bool

    public init(port: Int, explicit: Bool) {
        self.port = port
        self.explicit = explicit
    }

    public static let off = HTTPSPort(port: 0, explicit: true)
    public static let `default` = HTTPSPort(port: ProxyTLS.defaultPort, explicit: false)
}

/// Why the HTTPS listener did not start.
public struct HTTPSListenerError: Error, CustomStringConvertible {
    public let description: String
    /// The port could not be bound (the caller names who holds it).
    public let portTaken: Bool
}

extension ProxyTLS {
    /// Starts an HTTPS listener on `host:port` sharing `context` (routes, instances, logs, metrics)
    /// with the plain listener, its certificates from the user's CA (made now if none exists).
    public static func startListener(
        host: String, port: Int, context: ProxyContext, group: EventLoopGroup, environment: [String: String]
    ) async throws(HTTPSListenerError) -> ProxyServer {
        guard let files = LocalCAFiles(environment: environment) else {
            throw HTTPSListenerError(
                description: "neither XDG_DATA_HOME nor HOME is set (as absolute paths): devhost has nowhere to keep its CA",
                portTaken: false)
        }
        let tls: ProxyTLS
        do {
            tls = try make(port: port, files: files, domain: context.settings.domain, log: context.log)
        } catch {
            throw HTTPSListenerError(description: "\(error)", portTaken: false)
        }
        do {
            return try await ProxyServer.start(host: host, port: port, context: context, group: group, tls: tls.sslContext)
        } catch {
            throw HTTPSListenerError(description: "cannot listen on \(host):\(port) (\(error))", portTaken: true)
        }
    }
}

/// Puts DevhostTLS's log lines (a refused handshake) on the proxy's terminal, as devhost's own lines.
struct TerminalLogHandler: LogHandler {
    let log: (any LogTerminal)?
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let suffix = all.keys.sorted().map { " \($0)=\(all[$0]!)" }.joined()
        log?.event("\(event.message)\(suffix)", service: nil, label: "proxy")
    }
}
