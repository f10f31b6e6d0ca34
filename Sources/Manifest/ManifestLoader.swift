import Foundation

/// Finds, reads, merges and validates a project's manifest.
public struct ManifestLoader: Sendable {
    public static let fileNames = ["devhost.yml", "devhost.yaml"]

    /// The process environment, used for `DEVHOST_ENV`.
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Finds the manifest for `start`: a file, or a folder searched upward (like git) for
    /// `devhost.yml`, then for a `Procfile` in the starting folder.
    public func locate(from start: String) throws(ManifestError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: start, isDirectory: &isDirectory) else {
            throw ManifestError([ManifestIssue(path: "", message: "\(start) does not exist", at: nil)])
        }
        if !isDirectory.boolValue { return URL(fileURLWithPath: start).standardizedFileURL.path }
        var folder = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            for name in Self.fileNames {
                let candidate = folder.appendingPathComponent(name).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        let procfile = URL(fileURLWithPath: start).standardizedFileURL.appendingPathComponent("Procfile").path
        if FileManager.default.fileExists(atPath: procfile) { return procfile }
        throw ManifestError([
            ManifestIssue(
                path: "", message: "no devhost.yml found in \(start) or its parents (run `devhost init` to create a project)", at: nil)
        ])
    }

    /// Loads and validates the manifest at `path`, merging the overlay for `overlay`
    /// (or `DEVHOST_ENV`): `devhost.staging.yml` over `devhost.yml`.
    public func load(_ path: String, overlay: String? = nil) throws(ManifestError) -> Manifest {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let directory = url.deletingLastPathComponent().path
        let defaultName = DNSLabel.sanitize(url.deletingLastPathComponent().lastPathComponent)
        if url.lastPathComponent == "Procfile" {
            let text = try read(url.path)
            var manifest = Manifest(
                name: defaultName, file: url.path, directory: directory,
                services: try Procfile.parse(text, file: url.lastPathComponent, directory: directory))
            try loadEnvFiles(&manifest)
            return manifest
        }
        let displayName = url.lastPathComponent
        var root = try YAMLNode.parse(try read(url.path), file: displayName)
        var overlays: [String] = []
        if let name = overlay ?? environment["DEVHOST_ENV"], !name.isEmpty {
            let stem = url.deletingPathExtension().lastPathComponent
            let overlayURL = url.deletingLastPathComponent().appendingPathComponent("\(stem).\(name).\(url.pathExtension)")
            guard FileManager.default.fileExists(atPath: overlayURL.path) else {
                throw ManifestError([
                    ManifestIssue(
                        path: "", message: "environment \"\(name)\" has no overlay: \(overlayURL.lastPathComponent) does not exist", at: nil
                    )
                ])
            }
            if let top = try YAMLNode.parse(try read(overlayURL.path), file: overlayURL.lastPathComponent) {
                root = root.map { $0.merged(with: top) } ?? top
            }
            overlays.append(overlayURL.path)
        }
        var manifest = try build(root, file: url.path, directory: directory, defaultName: defaultName)
        manifest.overlays = overlays
        try loadEnvFiles(&manifest)
        return manifest
    }

    /// Parses manifest text that is not on disk (tests, editors piping a buffer).
    public func load(text: String, file: String = "devhost.yml", directory: String) throws(ManifestError) -> Manifest {
        let root = try YAMLNode.parse(text, file: file)
        let folder = URL(fileURLWithPath: directory)
        return try build(
            root, file: folder.appendingPathComponent(file).path, directory: directory,
            defaultName: DNSLabel.sanitize(folder.lastPathComponent))
    }

    private func build(_ root: YAMLNode?, file: String, directory: String, defaultName: String) throws(ManifestError) -> Manifest {
        var decoder = ManifestDecoder(directory: directory, defaultName: defaultName)
        var manifest = decoder.decode(root, file: file)
        var validator = ManifestValidator(reader: decoder.reader)
        validator.validate(manifest)
        let issues = validator.reader.issues
        let errors = issues.filter { $0.severity == .error }
        if !errors.isEmpty { throw ManifestError(errors.sorted(by: Self.positionOrder)) }
        manifest.warnings = issues.filter { $0.severity == .warning }
        return manifest
    }

    /// Env files are checked when the manifest loads, so a typo in `.env` is reported before anything starts.
    private func loadEnvFiles(_ manifest: inout Manifest) throws(ManifestError) {
        var issues: [ManifestIssue] = []
        for path in [manifest.envFile].compactMap({ $0 }) + manifest.services.compactMap(\.envFile) {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            do { _ = try EnvFile.load(path) } catch { issues += error.issues }
        }
        if !issues.isEmpty { throw ManifestError(issues) }
    }

    private func read(_ path: String) throws(ManifestError) -> String {
        let bytes = try ManifestFile.read(path, kind: "manifest")
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ManifestError([ManifestIssue(path: "", message: "\(path) is not UTF-8 text", at: nil)])
        }
        return text
    }

    private static func positionOrder(_ a: ManifestIssue, _ b: ManifestIssue) -> Bool {
        let left = a.location.map { ($0.file, $0.line, $0.column) } ?? ("", 0, 0)
        let right = b.location.map { ($0.file, $0.line, $0.column) } ?? ("", 0, 0)
        return left < right
    }
}
