import DevhostProxy
import Foundation
import NIOConcurrencyHelpers

/// The edge's book of registered projects: which hosts each serves (after the name-clash rules),
/// their instances' endpoints, and what the wait page says about a service. It writes the proxy's
/// route list and instance table; everything else in the edge reads them.
///
/// A project is known by its connection: the connection's end is its withdrawal, whatever the
/// reason (a `down`, a crash, SIGKILL).
public final class EdgeRegistry: Sendable {
    public typealias Connection = Int

    struct Entry {
        var key: String
        var project: EdgeProject
        var prefix: String?
        var hosts: [String]
        /// Instances with an endpoint, by service.
        var instances: [String: Set<String>] = [:]
        var states: [String: (state: String, lines: [String])] = [:]
        /// Its faults in force, for its services as the edge names them.
        var faults: [FaultRule] = []
        /// The inspector's newest id when it registered: older exchanges are not its own.
        var inspectedAfter = 0
        /// Its secrets are shown masked (`devhost requests --unmask` turns this off).
        var masksSecrets = true
    }

    /// A host whose project went away, for the "not running" page.
    struct Departure {
        var folder: String
        var at: Date
    }

    struct State {
        var entries: [Connection: Entry] = [:]
        var standalone: [ProxyRoutes.Route] = []
        var departed: [String: Departure] = [:]
        /// Since when nothing has been served (nil while something is).
        var idleSince: ContinuousClock.Instant? = .now
        /// Faults on standalone routes (`devhost proxy --fault`), named by host.
        var standaloneFaults: [FaultRule] = []
    }

    /// Requests for no route are not recorded: no project could read them.
    public let routes = ProxyRoutes(inspectsUnrouted: false)
    public let instances = RouteTable()
    /// The edge's own pages, served at `devhost.<domain>`.
    let pagesSocket: String
    let state = NIOLockedValueBox(State())
    static let maxDepartures = 256
    /// The edge's request inspector: it records the routes of projects that registered with
    /// `inspect` (and the standalone routes when `inspectsStandalone`).
    public let inspector: Inspector?
    let inspectsStandalone: Bool

    public init(pagesSocket: String, inspector: Inspector? = nil, inspectsStandalone: Bool = false) {
        self.pagesSocket = pagesSocket
        self.inspector = inspector
        self.inspectsStandalone = inspectsStandalone
        rebuild()
    }

    // MARK: Registration

    /// Registers a project (or replaces the routes of one already registered on this connection).
    public func register(_ connection: Connection, _ project: EdgeProject) -> EdgeMessage {
        let answer: EdgeMessage = state.withLockedValue { state in
            let others = state.entries.filter { $0.key != connection }.map(\.value)
            let decision = Self.claim(project, among: others)
            switch decision {
            case .refuse(let text):
                var refused = EdgeMessage(.refused)
                refused.message = text
                return refused
            case .accept(let prefix, let rule):
                let hosts = project.routes.map { Self.prefixed($0.host, prefix) }
                // A project keeps its key for as long as its connection lives (a reload re-registers).
                var entry =
                    state.entries[connection]
                    ?? Entry(
                        key: Self.key(for: project, prefix: prefix, taken: Set(others.map(\.key))), project: project, hosts: [],
                        inspectedAfter: inspector?.lastID ?? 0)
                entry.project = project
                entry.prefix = prefix
                entry.hosts = hosts
                state.entries[connection] = entry
                for host in hosts { state.departed[host] = nil }
                var registered = EdgeMessage(.registered)
                registered.key = entry.key
                registered.prefix = prefix
                registered.rule = rule
                // One host per name, however many paths it carries.
                registered.hosts = hosts.reduce(into: [String]()) { list, host in if !list.contains(host) { list.append(host) } }
                return registered
            }
        }
        rebuild()
        return answer
    }

    /// The project on `connection` is gone: its routes and endpoints leave at once, and its hosts
    /// answer the "not running" page.
    public func remove(_ connection: Connection) {
        let gone: Entry? = state.withLockedValue { state in
            guard let entry = state.entries.removeValue(forKey: connection) else { return nil }
            for host in entry.hosts { state.departed[host] = Departure(folder: entry.project.folder, at: Date()) }
            if state.departed.count > Self.maxDepartures {
                let oldest = state.departed.sorted { $0.value.at < $1.value.at }.prefix(state.departed.count - Self.maxDepartures)
                for (host, _) in oldest { state.departed[host] = nil }
            }
            return entry
        }
        guard let gone else { return }
        rebuild()
        if !gone.faults.isEmpty { publishFaults() }
        for (service, labels) in gone.instances {
            for label in labels { instances.set(service: gone.key + "/" + service, instance: label, endpoint: nil) }
        }
    }

    /// An instance of the project's service became routable (an endpoint) or stopped being (nil).
    public func endpoint(_ connection: Connection, service: String, instance: String, endpoint: RouteTable.Endpoint?) {
        let key: String? = state.withLockedValue { state in
            guard var entry = state.entries[connection] else { return nil }
            if endpoint == nil {
                entry.instances[service]?.remove(instance)
            } else {
                entry.instances[service, default: []].insert(instance)
            }
            state.entries[connection] = entry
            return entry.key
        }
        guard let key else { return }
        instances.set(service: key + "/" + service, instance: instance, endpoint: endpoint)
    }

    public func describe(_ connection: Connection, service: String, state text: String, lines: [String]) {
        state.withLockedValue { state in state.entries[connection]?.states[service] = (text, Array(lines.suffix(20))) }
    }

    /// The planned stop of an instance waits for the requests the edge has in flight to it.
    public func drain(_ connection: Connection, service: String, instance: String, upTo limit: Duration) async {
        guard let key = state.withLockedValue({ $0.entries[connection]?.key }) else { return }
        await instances.drain(service: key + "/" + service, instance: instance, upTo: limit)
    }

    public func setStandalone(_ routes: [ProxyRoutes.Route]) {
        state.withLockedValue { $0.standalone = routes }
        rebuild()
    }

    // MARK: What the proxy asks

    /// The wait page's description of a service (`key/service`).
    public func describe(_ qualified: String) -> (state: String, lines: [String]) {
        guard let slash = qualified.firstIndex(of: "/") else { return ("unknown", []) }
        let key = String(qualified[..<slash])
        let service = String(qualified[qualified.index(after: slash)...])
        return state.withLockedValue { state in
            guard let entry = state.entries.values.first(where: { $0.key == key }) else { return ("its project is not running", []) }
            return entry.states[service] ?? ("starting", [])
        }
    }

    /// Why a host has no route, when it had one: its project stopped.
    public func departure(of host: String) -> String? {
        state.withLockedValue { state in
            guard let gone = state.departed[host] else { return nil }
            let time = DateFormatter.localizedString(from: gone.at, dateStyle: .none, timeStyle: .medium)
            return "\(host) is not running: the project in \(gone.folder) served it until \(time). Start it with `devhost up` there."
        }
    }

    /// How long nothing has been served (no project, no standalone route), or nil while something is.
    public func idle(now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLockedValue { state in state.idleSince.map { now - $0 } }
    }

    public var projectCount: Int { state.withLockedValue { $0.entries.count } }

    func status() -> (projects: [EdgeStatus.Project], standalone: [EdgeStatus.Standalone]) {
        let (entries, standalone) = state.withLockedValue { ($0.entries.values.sorted { $0.key < $1.key }, $0.standalone) }
        let projects = entries.map { entry in
            var services: [String: [String]] = [:]
            var order: [String] = []
            for (route, host) in zip(entry.project.routes, entry.hosts) {
                if services[route.service] == nil { order.append(route.service) }
                services[route.service, default: []].append(host + (route.path ?? ""))
            }
            for service in entry.states.keys.sorted() where services[service] == nil {
                order.append(service)
                services[service] = []
            }
            return EdgeStatus.Project(
                key: entry.key, name: entry.project.name, folder: entry.project.folder, pid: entry.project.pid, prefix: entry.prefix,
                dashboard: "devhost.\(entry.key).\(entry.project.domain)",
                services: order.map { name in
                    EdgeStatus.Service(
                        name: name, hosts: services[name] ?? [], healthy: entry.instances[name]?.count ?? 0,
                        state: entry.states[name]?.state ?? "starting")
                })
        }
        let fixed = standalone.map { route -> EdgeStatus.Standalone in
            switch route.target {
            case .address(let host, let port): return .init(host: route.host, target: "\(host):\(port)")
            case .service(let name, _): return .init(host: route.host, target: name)
            case .socket(let path): return .init(host: route.host, target: path)
            }
        }
        return (projects, fixed)
    }

    // MARK: Building the route list

    /// The whole route list, swapped at once: standalone routes, then every project's hosts (a
    /// project's host wins over a standalone route of the same name), its dashboard, and the edge's.
    private func rebuild() {
        let list: [ProxyRoutes.Route] = state.withLockedValue { state in
            // Keyed by host and path: a project's host (or path under it) replaces the same one before it.
            var byHost: [String: ProxyRoutes.Route] = [:]
            var order: [String] = []
            func add(_ route: ProxyRoutes.Route) {
                let key = route.host.lowercased() + (route.path ?? "")
                if byHost[key] == nil { order.append(key) }
                byHost[key] = route
            }
            for var route in state.standalone {
                route.inspected = inspectsStandalone
                add(route)
            }
            var domains: Set<String> = ["localhost"]
            for entry in state.entries.values.sorted(by: { $0.key < $1.key }) {
                domains.insert(entry.project.domain)
                for (route, host) in zip(entry.project.routes, entry.hosts) {
                    add(
                        .init(
                            host: host, target: .service(entry.key + "/" + route.service, rewriteHost: route.rewriteHost),
                            path: route.path, stripPrefix: route.stripPrefix ?? false, upstreamProtocol: route.upstreamProtocol,
                            inspected: entry.project.inspect == true,
                            keepsHTTP: entry.project.https.map { $0 != "prefer" } ?? false))
                }
                add(.init(host: "devhost.\(entry.key).\(entry.project.domain)", target: .socket(path: entry.project.controlSocket)))
            }
            for domain in domains.sorted() { add(.init(host: "devhost.\(domain)", target: .socket(path: pagesSocket))) }
            let busy = !state.entries.isEmpty || !state.standalone.isEmpty
            if busy {
                state.idleSince = nil
            } else if state.idleSince == nil {
                state.idleSince = .now
            }
            return order.compactMap { byHost[$0] }
        }
        routes.replace(with: list)
    }

    static func prefixed(_ host: String, _ prefix: String?) -> String {
        prefix.map { $0 + "." + host } ?? host
    }

    /// A readable, unique key for a project: its name, its prefixed name for a worktree, or a number after it.
    static func key(for project: EdgeProject, prefix: String?, taken: Set<String>) -> String {
        let base = prefix.map { "\($0).\(project.name)" } ?? project.name
        if !taken.contains(base) { return base }
        var number = 2
        while taken.contains("\(base)-\(number)") { number += 1 }
        return "\(base)-\(number)"
    }
}
