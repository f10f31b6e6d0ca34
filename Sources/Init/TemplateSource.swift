import Foundation

/// Where a template comes from: a built-in name, a local folder, or a git repository at a ref.
public enum TemplateSource: Sendable, Equatable, CustomStringConvertible {
    case builtIn(name: String, directory: String)
    case folder(String)
    case git(url: String, ref: String?)

    /// Reads what the user typed: an existing folder (with a `template.yml`) is a folder; a URL, an
    /// scp-style address, a `.git` path, or any folder when `--ref` is given is git; anything else
    /// is a built-in name.
    public static func resolve(_ text: String, ref: String?, catalog: TemplateCatalog) throws(InitError) -> TemplateSource {
        let looksRemote = text.contains("://") || text.hasPrefix("git@") || text.hasSuffix(".git")
        // A bare word is a built-in name even when a folder of that name happens to be here,
        // unless that folder is itself a template.
        let looksLikePath = text.contains("/") || text.hasPrefix(".") || FileManager.default.fileExists(atPath: text + "/template.yml")
        var isDirectory: ObjCBool = false
        let exists = looksLikePath && FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) && isDirectory.boolValue
        if looksRemote || (exists && ref != nil) {
            // libgit2 calls a missing local path an "unsupported URL protocol": say what is wrong instead.
            if !text.contains("://"), !text.hasPrefix("git@"), !exists {
                throw InitError.invalidTemplate("\(text) does not exist")
            }
            let url = exists ? URL(fileURLWithPath: text).standardizedFileURL.path : text
            return .git(url: url, ref: ref)
        }
        if exists {
            let path = URL(fileURLWithPath: text).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: path + "/.git"), !FileManager.default.fileExists(atPath: path + "/template.yml") {
                return .git(url: path, ref: nil)
            }
            return .folder(path)
        }
        if text.contains("/") { throw InitError.invalidTemplate("\(text) does not exist") }
        guard let directory = catalog.directory(named: text) else {
            throw InitError.unknownTemplate(text, available: catalog.names)
        }
        if ref != nil { throw InitError.invalidTemplate("--ref applies to git templates, not the built-in \"\(text)\"") }
        return .builtIn(name: text, directory: directory)
    }

    public var description: String {
        switch self {
        case .builtIn(let name, _): return name
        case .folder(let path): return path
        case .git(let url, let ref): return ref.map { "\(url)@\($0)" } ?? url
        }
    }

    /// A folder holding the template: as is, or a fresh clone that the caller removes afterwards.
    public struct Checkout: Sendable {
        public var directory: String
        public var commit: String?
        public var temporary: String?
    }

    public func checkout() throws(InitError) -> Checkout {
        switch self {
        case .builtIn(_, let directory): return Checkout(directory: directory)
        case .folder(let path): return Checkout(directory: path)
        case .git(let url, let ref):
            let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-template-\(UUID().uuidString)").path
            do {
                let commit = try Git.clone(url, into: temporary, ref: ref)
                return Checkout(directory: temporary, commit: commit, temporary: temporary)
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw InitError.git(error)
            }
        }
    }
}

/// The built-in templates, found beside the installed binary or in the source checkout.
public struct TemplateCatalog: Sendable {
    public let root: String?

    /// Looks in `$DEVHOST_TEMPLATES`, then `PREFIX/share/devhost/templates` for a binary in
    /// `PREFIX/bin` (what `make install` lays out), then upward from the binary for a checkout's
    /// `templates/` (a binary under `.build/`).
    public init(executable: String = CommandLine.arguments[0], environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let override = environment["DEVHOST_TEMPLATES"] {
            root = override
            return
        }
        let binary = URL(fileURLWithPath: Self.resolveExecutable(executable)).resolvingSymlinksInPath()
        var folder = binary.deletingLastPathComponent()
        let installed = folder.deletingLastPathComponent().appendingPathComponent("share/devhost/templates")
        if FileManager.default.fileExists(atPath: installed.path) {
            root = installed.path
            return
        }
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("templates")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("fastapi/template.yml").path) {
                root = candidate.path
                return
            }
            folder = folder.deletingLastPathComponent()
        }
        root = nil
    }

    public init(root: String) {
        self.root = root
    }

    public var names: [String] {
        guard let root, let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        return entries.filter { FileManager.default.fileExists(atPath: "\(root)/\($0)/template.yml") }.sorted()
    }

    public func directory(named name: String) -> String? {
        guard let root, names.contains(name) else { return nil }
        return "\(root)/\(name)"
    }

    public func definitions() throws(InitError) -> [TemplateDefinition] {
        var result: [TemplateDefinition] = []
        for name in names { result.append(try TemplateDefinition.load(from: directory(named: name)!)) }
        return result
    }

    private static func resolveExecutable(_ path: String) -> String {
        if path.contains("/") { return path }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/\(path)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/proc/self/exe"
    }
}
