import DevhostManifest
import Foundation

/// Turns file changes into actions: an edited manifest, overlay or env file is validated and applied
/// (or reported with its position while the running state stays); a change matching a service's
/// `watch:` globs restarts that service rolling.
public final class Reloader: Sendable {
    let supervisor: Supervisor
    let load: @Sendable () throws -> Manifest
    let log: LogOutput
    /// Called with each applied manifest (the proxy swaps its routes).
    let applied: @Sendable (Manifest) -> Void

    public init(
        supervisor: Supervisor, log: LogOutput, load: @escaping @Sendable () throws -> Manifest,
        applied: @escaping @Sendable (Manifest) -> Void
    ) {
        self.supervisor = supervisor
        self.log = log
        self.load = load
        self.applied = applied
    }

    /// Loads the manifest again and applies the difference.
    public func reload() async -> (applied: Bool, message: String) {
        let (load, log, applied) = (self.load, self.log, self.applied)
        // Loading inside the exclusive section: two reloads in a row apply in the order the file changed.
        let result = try? await supervisor.exclusive { supervisor -> (applied: Bool, message: String) in
            let new: Manifest
            do {
                new = try load()
            } catch {
                let issues = (error as? ManifestError)?.issues.map(\.description) ?? ["\(error)"]
                let message = "the manifest was not applied; the running services stay as they are:\n  " + issues.joined(separator: "\n  ")
                log.event(message, service: "devhost")
                return (false, message)
            }
            let report = await supervisor.apply(new)
            applied(new)
            return (report.problems.isEmpty, report.summary)
        }
        return result ?? (false, "devhost is stopping")
    }

    /// Paths (relative to the project folder) that changed together.
    public func filesChanged(_ paths: [String]) async {
        let manifest = await supervisor.manifest
        let configuration = Set(Self.configurationFiles(of: manifest))
        if paths.contains(where: configuration.contains) {
            log.event("\(paths.filter(configuration.contains).joined(separator: ", ")) changed", service: "devhost")
            _ = await reload()
            return
        }
        for service in manifest.services where !service.watch.isEmpty || (service.setup != nil && !service.setupInputs.isEmpty) {
            let base = service.relativeCwd == "." ? "" : service.relativeCwd.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/"
            let inside = paths.filter { $0.hasPrefix(base) }.map { String($0.dropFirst(base.count)) }
            let watched = inside.filter { path in service.watch.contains { Glob.matches($0, path) } }
            // A changed setup input (requirements, migrations) re-runs setup first: `restart` does it.
            let inputs = service.setup == nil ? [] : inside.filter { path in service.setupInputs.contains { Glob.matches($0, path) } }
            let hits = Array(Set(watched + inputs)).sorted()
            guard !hits.isEmpty, await supervisor.isRunning(service.name) else { continue }
            let action = inputs.isEmpty ? "restarting \(service.name)" : "setting up and restarting \(service.name)"
            log.event(
                "\(hits.prefix(3).joined(separator: ", "))\(hits.count > 3 ? " and \(hits.count - 3) more" : "") changed: \(action)",
                service: service.name)
            let outcome = try? await supervisor.exclusive { try await $0.restart(service.name) }
            if let outcome, !outcome.done { log.event(outcome.message, service: service.name) }
        }
    }

    /// The manifest, its overlays and env files, relative to the project folder.
    static func configurationFiles(of manifest: Manifest) -> [String] {
        let root = manifest.directory.hasSuffix("/") ? manifest.directory : manifest.directory + "/"
        let files = [manifest.file] + manifest.overlays + [manifest.envFile].compactMap { $0 } + manifest.services.compactMap(\.envFile)
        return files.compactMap { $0.hasPrefix(root) ? String($0.dropFirst(root.count)) : nil }
    }
}
