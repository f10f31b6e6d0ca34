import DevhostCompose
import DevhostManifest
import Foundation

/// Generates a project all-or-nothing: render into a hidden staging folder beside the target, add the
/// compose file and the first commit there, then move it into place. A failure leaves nothing behind.
public struct ProjectGenerator: Sendable {
    public struct Options: Sendable {
        public var target: String
        public var projectName: String
        public var sets: [String: String]
        public var useDefaults: Bool
        public var git: Bool
        public var force: Bool
        /// Drop `sets` for variables the template no longer declares (replaying recorded answers).
        public var ignoreUnknownSets = false

        public init(
            target: String, projectName: String, sets: [String: String] = [:], useDefaults: Bool = true, git: Bool = true,
            force: Bool = false
        ) {
            self.target = target
            self.projectName = projectName
            self.sets = sets
            self.useDefaults = useDefaults
            self.git = git
            self.force = force
        }
    }

    public struct Result: Sendable {
        public var directory: String
        public var files: [String]
        public var answers: [(String, String)]
        public var commit: String?
        public var identity: Git.Identity?
        /// Why no commit was made although git was asked for.
        public var gitNote: String?
    }

    public static let recordPath = ".devhost/template.yml"

    public let source: TemplateSource

    public init(source: TemplateSource) {
        self.source = source
    }

    public func generate(_ options: Options, ask: ((TemplateDefinition.Variable) -> String?)? = nil) throws(InitError) -> Result {
        let target = URL(fileURLWithPath: options.target).standardizedFileURL
        let targetState = try Self.inspect(target.path)
        if targetState == .nonEmpty, !options.force { throw InitError.targetNotEmpty(target.path) }

        let checkout = try source.checkout()
        defer { if let temporary = checkout.temporary { try? FileManager.default.removeItem(atPath: temporary) } }
        let definition = try TemplateDefinition.load(from: checkout.directory)
        let declared = Set(definition.variables.map(\.name))
        let sets = options.ignoreUnknownSets ? options.sets.filter { declared.contains($0.key) } : options.sets
        let answers = try TemplateAnswers.resolve(
            definition, projectName: options.projectName, sets: sets, useDefaults: options.useDefaults, ask: ask)

        let parent = target.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw InitError.io("cannot create \(parent.path): \(error.localizedDescription)")
        }
        let staging = parent.appendingPathComponent(".devhost-init-\(target.lastPathComponent)-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw InitError.io("cannot create \(staging.path): \(error.localizedDescription)")
        }
        var moved = false
        defer { if !moved { try? FileManager.default.removeItem(at: staging) } }
        // A root commit in staging would replace an existing repository's .git when moved over it.
        let existingRepository =
            targetState == .nonEmpty && FileManager.default.fileExists(atPath: target.appendingPathComponent(".git").path)
        let repository = options.git && !existingRepository ? Git.PendingRepository(at: staging.path) : nil
        // Runs before the clean-up above: nothing may still be writing into staging when it goes.
        defer { repository?.finish() }

        let renderer = TemplateRenderer(
            definition: definition, filesRoot: URL(fileURLWithPath: checkout.directory).appendingPathComponent("files"),
            values: Dictionary(uniqueKeysWithValues: answers))
        var files = try renderer.render(into: staging)
        if files.contains("devhost.yml"), !files.contains("docker-compose.yml") {
            try writeCompose(in: staging)
            files.append("docker-compose.yml")
        }
        try writeRecord(in: staging, answers: answers, commit: checkout.commit)
        files.append(Self.recordPath)

        var commit: String?
        var identity: Git.Identity?
        var gitNote: String?
        if options.git, existingRepository {
            gitNote = "\(target.path) is already a git repository: the generated files are left uncommitted"
        } else if let repository {
            do {
                let made = try repository.commit(files: files, message: "Initial commit from devhost template \(definition.name)")
                commit = made.commit
                identity = made.identity
            } catch {
                throw InitError.git(error)
            }
        }
        try place(staging, at: target, state: targetState)
        moved = true
        return Result(directory: target.path, files: files.sorted(), answers: answers, commit: commit, identity: identity, gitNote: gitNote)
    }

    enum TargetState { case missing, empty, nonEmpty }

    static func inspect(_ path: String) throws(InitError) -> TargetState {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .missing }
        guard isDirectory.boolValue else { throw InitError.io("\(path) exists and is not a folder") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return entries.isEmpty ? .empty : .nonEmpty
    }

    /// The compose file comes from the Compose module, so templates never carry a hand-written one
    /// that could drift from their devhost.yml. Loading the manifest also validates it.
    private func writeCompose(in staging: URL) throws(InitError) {
        let manifest: Manifest
        do {
            manifest = try ManifestLoader(environment: [:]).load(staging.appendingPathComponent("devhost.yml").path)
        } catch {
            throw InitError.generatedManifest(error.issues)
        }
        let file = ComposeFile(manifest: manifest)
        do {
            try file.write(to: file.defaultPath, force: true)
        } catch {
            throw InitError.io("cannot write docker-compose.yml: \(error)")
        }
    }

    /// Where the project came from, so `devhost template update` can replay the template later.
    private func writeRecord(in staging: URL, answers: [(String, String)], commit: String?) throws(InitError) {
        var pairs: [(String, YAMLNode)] = []
        switch source {
        case .builtIn(let name, _): pairs += [("source", .string(name)), ("kind", .string("builtin"))]
        case .folder(let path): pairs += [("source", .string(path)), ("kind", .string("folder"))]
        case .git(let url, let ref):
            pairs += [("source", .string(url)), ("kind", .string("git"))]
            if let ref { pairs.append(("ref", .string(ref))) }
        }
        if let commit { pairs.append(("commit", .string(commit))) }
        pairs.append(("devhost_version", .string(DevhostVersion.current)))
        pairs.append(("answers", .map(answers.map { ($0.0, YAMLNode.string($0.1)) })))
        let text = "# Written by devhost init: the template and answers this project was generated from.\n" + YAMLNode.map(pairs).emitted()
        let url = staging.appendingPathComponent(Self.recordPath)
        var info = stat()
        // A template's own `.devhost` link would take the record (and later all of devhost's state) elsewhere.
        if lstat(url.deletingLastPathComponent().path, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
            throw InitError.unsafePath(
                "the template makes .devhost a link or a file; devhost keeps its own state there: remove it from the template")
        }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if lstat(url.path, &info) == 0 { unlink(url.path) }
            try FileWriter.write(text.utf8, to: url.path, fresh: true)
        } catch {
            throw InitError.io("cannot write \(Self.recordPath): \(error.localizedDescription)")
        }
    }

    private func place(_ staging: URL, at target: URL, state: TargetState) throws(InitError) {
        do {
            switch state {
            case .missing:
                try FileManager.default.moveItem(at: staging, to: target)
            case .empty:
                try FileManager.default.removeItem(at: target)
                try FileManager.default.moveItem(at: staging, to: target)
            case .nonEmpty:
                // --force into an existing folder: each generated entry replaces what is there; the rest stays.
                for name in try FileManager.default.contentsOfDirectory(atPath: staging.path) {
                    let destination = target.appendingPathComponent(name)
                    if FileManager.default.fileExists(atPath: destination.path) { try FileManager.default.removeItem(at: destination) }
                    try FileManager.default.moveItem(at: staging.appendingPathComponent(name), to: destination)
                }
                try FileManager.default.removeItem(at: staging)
            }
        } catch {
            throw InitError.io("cannot move the project into \(target.path): \(error.localizedDescription)")
        }
    }
}

public enum DevhostVersion {
    public static let current = "0.1.0"
}
