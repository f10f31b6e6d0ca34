import DevhostManifest
import Foundation
import Testing

/// A temporary project folder, removed when the test ends.
final class TempProject {
    let path: String

    init(_ files: [String: String] = [:]) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, content) in files { try write(name, content) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ content: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: true, encoding: .utf8)
    }

    func load(overlay: String? = nil, environment: [String: String] = [:]) throws(ManifestError) -> Manifest {
        let loader = ManifestLoader(environment: environment)
        return try loader.load(try loader.locate(from: path), overlay: overlay)
    }
}

/// Loads `yaml` as devhost.yml and returns the issues it raises (empty when it is valid).
func issues(_ yaml: String) throws -> [ManifestIssue] {
    let project = try TempProject(["devhost.yml": yaml])
    do {
        _ = try project.load()
        return []
    } catch {
        return error.issues
    }
}

func load(_ yaml: String) throws -> Manifest {
    try TempProject(["devhost.yml": yaml]).load()
}
