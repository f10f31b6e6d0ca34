import DevhostManifest
import Foundation

/// Runs a service's `setup` before its first start, and again only when the content of its
/// `setup_inputs` (or the setup command itself) changed; the hash is kept under `.devhost/setup/`.
struct SetupRunner {
    let stateDirectory: String

    func fingerprint(_ service: Service) -> String {
        var hash = FNV1a()
        hash.mix((service.setup?.description ?? "").utf8)
        for path in inputFiles(service) {
            hash.mix(path.utf8)
            hash.mix([0])
            if let data = FileManager.default.contents(atPath: service.cwd + "/" + path) { hash.mix(data) }
        }
        return String(hash.value, radix: 16)
    }

    /// The input files, expanded from globs relative to the service's cwd, sorted.
    func inputFiles(_ service: Service) -> [String] {
        var files = Set<String>()
        for pattern in service.setupInputs {
            if !pattern.contains("*") && !pattern.contains("?") {
                files.insert(pattern)
                continue
            }
            guard let enumerator = FileManager.default.enumerator(atPath: service.cwd) else { continue }
            while let path = enumerator.nextObject() as? String {
                if path.hasPrefix(".venv") || path.hasPrefix("node_modules") || path.hasPrefix(".git") || path.hasPrefix(".devhost") {
                    enumerator.skipDescendants()
                    continue
                }
                if fnmatch(pattern, path, FNM_PATHNAME) == 0
                    || (pattern.hasPrefix("**/") && fnmatch(String(pattern.dropFirst(3)), (path as NSString).lastPathComponent, 0) == 0)
                {
                    files.insert(path)
                }
            }
        }
        return files.sorted()
    }

    private func hashFile(_ service: Service) -> String { "\(stateDirectory)/setup/\(service.name).hash" }

    func isUpToDate(_ service: Service) -> Bool {
        guard let recorded = try? String(contentsOfFile: hashFile(service), encoding: .utf8) else { return false }
        return recorded == fingerprint(service)
    }

    func markDone(_ service: Service) {
        try? FileManager.default.createDirectory(atPath: stateDirectory + "/setup", withIntermediateDirectories: true)
        try? AtomicFile.write(fingerprint(service), to: hashFile(service))
    }
}
