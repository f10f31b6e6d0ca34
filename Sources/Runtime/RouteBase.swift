import DevhostManifest
import DevhostProxy
import NIOConcurrencyHelpers

/// The proxy's routes that come from the project: the manifest's, and `devhost.<domain>` for the
/// dashboard. Swapped as a whole on reload.
public final class RouteBase: Sendable {
    /// Guards the current list: a reload swaps it while the route-file watcher's task reads it.
    private let current: NIOLockedValueBox<[ProxyRoutes.Route]>
    private let controlSocket: String

    public init(manifest: Manifest, controlSocket: String) {
        self.controlSocket = controlSocket
        self.current = NIOLockedValueBox(Self.routes(for: manifest, controlSocket: controlSocket))
    }

    public var routes: [ProxyRoutes.Route] { current.withLockedValue { $0 } }

    public func update(manifest: Manifest) {
        let routes = Self.routes(for: manifest, controlSocket: controlSocket)
        current.withLockedValue { $0 = routes }
    }

    static func routes(for manifest: Manifest, controlSocket: String) -> [ProxyRoutes.Route] {
        let dashboard = ProxyRoutes.Route(host: "devhost.\(manifest.proxy.domain)", target: .socket(path: controlSocket))
        return ProxyRoutes.routes(for: manifest) + [dashboard]
    }
}
