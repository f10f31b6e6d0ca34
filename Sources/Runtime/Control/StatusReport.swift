import DevhostManifest
import Foundation

/// What `GET /v1/status` answers, `devhost status` prints and the dashboard draws.
public struct StatusReport: Codable, Sendable, Equatable {
    public struct Proxy: Codable, Sendable, Equatable {
        public var bind: String
        public var port: Int
        public var domain: String
        /// The HTTPS port the routes are served on; nil when HTTPS is off (the routes are http).
        public var httpsPort: Int? = nil
    }

    public struct ServiceStatus: Codable, Sendable, Equatable {
        public var name: String
        /// Public URLs through the proxy (https when HTTPS is on, as `${svc.public_url}`).
        public var routes: [String]
        /// The stable loopback port other services use.
        public var port: Int?
        public var instances: [InstanceStatus]
        /// A forward's far end (`ssh deploy@bastion → db.internal:5432`); nil for a local service.
        public var remote: String? = nil
    }

    public struct InstanceStatus: Codable, Sendable, Equatable {
        public var label: String
        public var index: Int
        public var pid: Int32?
        /// The port it listens on (discovered), else the one it was given.
        public var port: Int?
        public var state: String
        /// `ok`, `failing`, `pending`, or `-` without a health check.
        public var health: String
        public var ok: Bool
        /// Ended and not coming back by itself (failed, exited with an error); stopped on request is not.
        public var failed: Bool
        public var restarts: Int
        public var uptimeSeconds: Double?
        /// A forward's last error (the remote unreachable, what ssh or kubectl said), kept after recovery.
        public var lastError: String? = nil
        /// What the last passing health check found (`redis PONG`); nil while failing or without a check.
        public var healthDetail: String? = nil
    }

    public var project: String
    public var directory: String
    public var pid: Int32
    public var startedAt: Date
    /// Every service reached what it is for at least once.
    public var ready: Bool
    /// Every instance is fine right now.
    public var ok: Bool
    public var proxy: Proxy?
    public var services: [ServiceStatus]
    /// The faults in force (`devhost fault`); empty when none.
    public var faults: [FaultStatus]? = nil

    /// snake_case keys and ISO dates, as the API documents them.
    static func encoded(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    public static func decode(_ data: Data) throws -> StatusReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(StatusReport.self, from: data)
    }

    public func json() -> String {
        Self.encoded(self)
    }

    /// Builds the report from the supervisor's snapshot.
    public static func make(
        manifest: Manifest, snapshot: [InstanceSnapshot], stablePorts: [String: Int], ready: Bool, proxyPort: Int?, httpsPort: Int? = nil,
        startedAt: Date
    ) -> StatusReport {
        let endpoints = proxyPort.map { PublicEndpoints(proxy: manifest.proxy, httpPort: $0, servedHTTPSPort: httpsPort) }
        let now = ContinuousClock.now
        // Services `up` did not select are listed without instances (`devhost start` can still start them).
        let services = manifest.services.map { service -> ServiceStatus in
            let mine = snapshot.filter { $0.service == service.name }
            let routes =
                endpoints.map { endpoints in
                    service.routeEntries.map { endpoints.url(host: manifest.host(forRoute: $0.host)) + $0.pathSuffix }
                } ?? []
            return ServiceStatus(
                name: service.name, routes: routes, port: stablePorts[service.name],
                instances: mine.map { instance in
                    InstanceStatus(
                        label: instance.label, index: instance.index, pid: instance.pid,
                        port: instance.listeningPort ?? instance.assignedPort,
                        state: instance.state.description, health: instance.health, ok: instance.isOK,
                        failed: instance.state.isFinal && instance.state != .completed && !instance.held, restarts: instance.restarts,
                        uptimeSeconds: instance.startedAt.map { Double(DurationText.millisecondsExact(now - $0)) / 1000 },
                        lastError: instance.lastError, healthDetail: instance.healthDetail)
                }, remote: service.forward?.description)
        }
        return StatusReport(
            project: manifest.name, directory: manifest.directory, pid: getpid(), startedAt: startedAt, ready: ready,
            ok: services.allSatisfy { $0.instances.allSatisfy(\.ok) },
            proxy: endpoints.map {
                Proxy(bind: manifest.proxy.bind, port: $0.httpPort, domain: manifest.proxy.domain, httpsPort: $0.httpsPort)
            }, services: services)
    }
}
