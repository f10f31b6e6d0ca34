import ArgumentParser
import DevhostManifest
import Foundation

/// Options every command that reads a manifest shares.
struct ManifestOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    @Option(name: .customLong("env"), help: "Merge devhost.ENV.yml over devhost.yml (default: $DEVHOST_ENV).")
    var environment: String?

    func load() throws -> Manifest {
        let loader = ManifestLoader()
        do {
            let path = try loader.locate(from: file ?? FileManager.default.currentDirectoryPath)
            return try loader.load(path, overlay: environment)
        } catch {
            let count = error.issues.count
            let heading = count == 1 ? "" : "\(count) problems in the manifest:\n"
            throw CommandFailure(message: heading + error.issues.map(\.description).joined(separator: "\n"))
        }
    }
}
