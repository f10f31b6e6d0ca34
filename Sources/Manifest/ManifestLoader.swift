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
        // stat, as FileManager.fileExists: links followed, a broken one does not exist.
        var info = stat()
        guard stat(start, &info) == 0 else {
            throw ManifestError([ManifestIssue(path: "", message: "\(start) does not exist", at: nil)])
        }
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        // A path not yet absolute and standard goes through URL's standardization once; the walk
        // itself is on strings with stat: URL's and FileManager's code is a megabyte of the binary
        // that `devhost top` would keep resident, and an absolute, standard path (the current
        // folder, usually) needs none of it.
        let root = Self.isStandardAbsolute(start) ? start : URL(fileURLWithPath: start).standardizedFileURL.path
        if !isDirectory { return root }
        var folder = root
        while true {
            let prefix = folder == "/" ? "/" : folder + "/"
            for name in Self.fileNames where stat(prefix + name, &info) == 0 { return prefix + name }
            guard folder != "/", let slash = folder.utf8.lastIndex(of: UInt8(ascii: "/")) else { break }
            folder = slash == folder.startIndex ? "/" : String(folder[..<slash])
        }
        let procfile = (root == "/" ? "/" : root + "/") + "Procfile"
        if stat(procfile, &info) == 0 { return procfile }
        throw ManifestError([
            ManifestIssue(
                path: "", message: "no devhost.yml found in \(start) or its parents (run `devhost init` to create a project)", at: nil)
        ])
    }

    /// Whether `path` is absolute and standard (no empty, `.` or `..` component, no trailing
    /// slash; `/` is): what URL's standardization gives back unchanged. Read as bytes.
    public static func isStandardAbsolute(_ path: String) -> Bool {
        let bytes = path.utf8
        guard bytes.first == UInt8(ascii: "/") else { return false }
        if bytes.count == 1 { return true }
        var length = 0
        var onlyDots = true
        for byte in bytes.dropFirst() {
            if byte == UInt8(ascii: "/") {
                guard length > 0, !(onlyDots && length <= 2) else { return false }
                (length, onlyDots) = (0, true)
            } else {
                length += 1
                if byte != UInt8(ascii: ".") { onlyDots = false }
            }
        }
        return length > 0 && !(onlyDots && length <= 2)
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
