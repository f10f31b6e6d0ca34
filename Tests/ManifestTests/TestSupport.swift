import DevhostManifest
@_exported import DevhostTestSupport
import Foundation
import Testing

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
