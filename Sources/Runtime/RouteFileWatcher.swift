import DevhostProxy
import Foundation

/// Serves a route file next to fixed routes and applies its edits while running: the file is
/// polled once a second; a malformed edit is reported and the previous routes stay.
public enum RouteFileWatcher {
    /// Applies `base` plus the file's routes now; throws if the file cannot be read.
    public static func apply(_ file: RouteFile, base: [ProxyRoutes.Route], to routes: ProxyRoutes) throws {
        routes.replace(with: base + (try file.routes()))
    }

    public static func watch(
        _ file: RouteFile, base: @escaping @Sendable () -> [ProxyRoutes.Route], routes: ProxyRoutes, log: LogOutput,
        applied: @escaping @Sendable () -> Void = {}
    ) -> Task<Void, Never> {
        Task {
            var seen = file.modified
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let now = file.modified
                guard now != seen else { continue }
                seen = now
                do {
                    try apply(file, base: base(), to: routes)
                    applied()
                    log.event("routes reloaded from \(file.path)")
                } catch {
                    log.event("\(file.path) not applied, the previous routes stay: \(error)")
                }
            }
        }
    }
}
