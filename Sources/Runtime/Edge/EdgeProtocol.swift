import DevhostManifest
import Foundation

/// What projects and the edge say to each other over the edge socket: one JSON object a line. A
/// project keeps its connection open for as long as it runs; the edge takes the connection's end
/// as the project's end, so a project killed without a word loses its routes at once.
public enum EdgeProtocol {
    /// Bumped on any change a peer of the previous version would misread; both sides refuse a
    /// peer of another version instead of guessing.
    public static let version = 1
    /// What this edge understands beyond version 1, said in its welcome. A project needs a feature
    /// only when it uses it, so additions that older edges would merely not act on keep the version:
    /// a project with path routes refuses an edge that does not list `path-routes` (which would take
    /// `shop.localhost/api` for all of `shop.localhost`), and every other project still joins it.
    /// `faults`: the edge applies a project's `faults` messages to its routes; a project on an edge
    /// without it refuses `devhost fault` (the faults would silently not happen).
    /// `requests`: the edge records the exchanges of projects that register with `inspect` and
    /// answers a project's `requests` messages about its own; a project on an edge without it
    /// answers `devhost requests` with a 409 saying to restart the edge.
    /// `upstream-protocols`: the edge reads a route's `protocol` (h2c, grpc) and relays HTTP/2 to
    /// it; a project with such a service refuses an edge without it (that edge would send its
    /// calls as HTTP/1.1).
    public static let features = ["path-routes", "faults", "requests", "upstream-protocols"]
    /// No message is longer: a peer that sends more is cut off.
    static let maxLine = 1 << 20
    /// What a project reads from the edge: an inspector's answer (500 summaries, or one exchange
    /// with two 64 KiB bodies escaped twice) can be longer than any message a project sends.
    static let maxAnswerLine = 64 << 20
}

/// One line of the edge protocol. Every kind of message is this one shape with `type` set and the
/// fields of that type filled: easy to read in a log and to write from a test.
public struct EdgeMessage: Codable, Sendable, Equatable {
    public var type: Kind
    // hello / welcome
    public var `protocol`: Int?
    public var version: String?
    public var pid: Int32?
    public var port: Int?
    /// welcome: the edge's HTTPS port, when it serves HTTPS.
    public var httpsPort: Int?
    /// welcome: `EdgeProtocol.features` (absent from edges older than path routes).
    public var features: [String]?
    // register / routes
    public var project: EdgeProject?
    // registered
    public var key: String?
    public var prefix: String?
    public var rule: String?
    public var hosts: [String]?
    // endpoint / describe / drain
    public var service: String?
    public var instance: String?
    public var host: String?
    public var state: String?
    public var lines: [String]?
    public var id: Int?
    public var timeoutMs: Int?
    // status
    public var status: EdgeStatus?
    // faults: every fault the project has in force, each time it changes
    public var faults: [EdgeFault]?
    // requests: a question to the request inspector (with `id`), and its answer (the same `id`)
    public var query: RequestQuery?
    public var answer: RequestAnswer?
    // error / refused / bye
    public var message: String?

    public enum Kind: String, Codable, Sendable {
        case hello, welcome, register, registered, refused, routes, endpoint, describe, drain, drained, withdraw, withdrawn
        case status, bye, error, faults, requests
    }

    public init(_ type: Kind) {
        self.type = type
    }

    public static func hello(version: String) -> EdgeMessage {
        var message = EdgeMessage(.hello)
        message.protocol = EdgeProtocol.version
        message.version = version
        return message
    }

    public static func error(_ text: String) -> EdgeMessage {
        var message = EdgeMessage(.error)
        message.message = text
        return message
    }

    /// The line to send, newline included.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = (try? encoder.encode(self)) ?? Data("{\"type\":\"error\"}".utf8)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    public static func decode(_ line: some Collection<UInt8>) throws -> EdgeMessage {
        try JSONDecoder().decode(EdgeMessage.self, from: Data(line))
    }
}

/// What a project tells the edge about itself. The edge never reads the project's files: this is
/// all it knows.
public struct EdgeProject: Codable, Sendable, Equatable {
    public struct Route: Codable, Sendable, Equatable {
        /// The host without any worktree prefix (`api.shop.localhost`).
        public var host: String
        public var service: String
        public var rewriteHost: Bool
        /// A path prefix under the host (absent for a host route, so older edges read host routes
        /// as before).
        public var path: String?
        public var stripPrefix: Bool?
        /// What the service's port speaks when it is not HTTP/1.1 (`h2c`, `grpc`); absent for
        /// `http1`, so older edges read such routes as before.
        public var `protocol`: String?

        public init(
            host: String, service: String, rewriteHost: Bool = false, path: String? = nil, stripPrefix: Bool? = nil,
            protocol upstream: UpstreamProtocol = .http1
        ) {
            self.host = host
            self.service = service
            self.rewriteHost = rewriteHost
            self.path = path
            self.stripPrefix = stripPrefix
            self.protocol = upstream == .http1 ? nil : upstream.rawValue
        }

        /// What the route's service speaks (a name this edge does not know reads as HTTP/1.1).
        public var upstreamProtocol: UpstreamProtocol { self.protocol.flatMap(UpstreamProtocol.init(rawValue:)) ?? .http1 }
    }

    public var name: String
    /// The folder of its devhost.yml.
    public var folder: String
    /// The git repository's common folder (shared by its worktrees), when it is in one.
    public var repository: String?
    /// Its branch as a host label (`feature-x`), when it is in a git repository.
    public var branch: String?
    public var controlSocket: String
    public var domain: String
    public var pid: Int32
    /// The prefix it had before the edge restarted: kept if still free, so URLs do not move.
    public var prefix: String?
    public var routes: [Route]
    /// The edge records its exchanges for `devhost requests` (false: `proxy.inspect: false` or
    /// `--no-inspect`; absent from projects older than the edge's inspector, which cannot read them).
    public var inspect: Bool?
    /// Its `proxy.https` (prefer, both, off): the edge sends its browsers to HTTPS only for
    /// `prefer` (absent from older projects: prefer, as before).
    public var https: String?

    public init(
        name: String, folder: String, repository: String? = nil, branch: String? = nil, controlSocket: String, domain: String = "localhost",
        pid: Int32 = getpid(), prefix: String? = nil, routes: [Route], inspect: Bool? = nil, https: String? = nil
    ) {
        self.https = https
        self.name = name
        self.folder = folder
        self.repository = repository
        self.branch = branch
        self.controlSocket = controlSocket
        self.domain = domain
        self.pid = pid
        self.prefix = prefix
        self.routes = routes
        self.inspect = inspect
    }
}

/// What `devhost proxy status` shows, and the edge's dashboard lists.
public struct EdgeStatus: Codable, Sendable, Equatable {
    public struct Project: Codable, Sendable, Equatable {
        public var key: String
        public var name: String
        public var folder: String
        public var pid: Int32
        public var prefix: String?
        public var dashboard: String
        public var services: [Service]
    }

    public struct Service: Codable, Sendable, Equatable {
        public var name: String
        public var hosts: [String]
        public var healthy: Int
        public var state: String
    }

    public struct Standalone: Codable, Sendable, Equatable {
        public var host: String
        public var target: String
    }

    public var version: String
    public var `protocol`: Int
    public var pid: Int32
    public var port: Int
    public var uptimeSeconds: Int
    /// Seconds until the edge exits for having nothing to serve, when that clock is running.
    public var exitsInSeconds: Int?
    public var projects: [Project]
    public var standalone: [Standalone]
}

extension EdgeProject {
    /// What a project registers: its routes (hosts without any worktree prefix), where it is, and
    /// which repository and branch it is a checkout of, and whether the edge records its exchanges
    /// (`proxy.inspect` and `inspect`, false for `--no-inspect`).
    public static func of(_ manifest: Manifest, controlSocket: String, identity: ProjectIdentity? = nil, inspect: Bool = true)
        -> EdgeProject
    {
        var plain = manifest
        plain.proxy.hostPrefix = nil
        let routes = manifest.services.flatMap { service in
            service.routeEntries.map {
                Route(
                    host: plain.host(forRoute: $0.host).lowercased(), service: service.name, rewriteHost: service.rewriteHost,
                    path: $0.path, stripPrefix: $0.path == nil ? nil : $0.stripPrefix, protocol: service.upstreamProtocol)
            }
        }
        let identity = identity ?? (try? ProjectIdentity.of(folder: manifest.directory))
        return EdgeProject(
            // The canonical folder: the same project reached through a link is the same project.
            name: manifest.name, folder: identity?.folder ?? manifest.directory, repository: identity?.commonDir,
            branch: identity?.branchLabel,
            controlSocket: controlSocket, domain: manifest.proxy.domain, prefix: manifest.proxy.hostPrefix, routes: routes,
            inspect: manifest.proxy.inspect && inspect, https: manifest.proxy.https.rawValue)
    }
}
