import DevhostCompose
import DevhostManifest
import Foundation

/// `devhost template update`: replays the template a project came from and merges the result into
/// the project, file by file, with a 3-way merge whose base is what devhost generated last (read
/// from the project's git history). Nothing is committed: the user reviews the result.
public struct TemplateUpdater: Sendable {
    public struct Report: Sendable, Equatable {
        public var updated: [String] = []
        public var merged: [String] = []
        public var conflicts: [String] = []
        public var added: [String] = []
        public var removed: [String] = []
        /// Files the template changed or dropped that the user also changed or deleted: left as they are.
        public var kept: [String] = []
        public var baseCommit = ""
        public var source = ""
        /// For git templates: the ref the project was on and the one it moved to (the same when it stayed).
        public var from: String?
        public var to: String?
    }

    public let project: String

    public init(project: String) {
        self.project = URL(fileURLWithPath: project).standardizedFileURL.path
    }

    struct Record {
        var source: String
        var kind: String
        var ref: String?
        var answers: [String: String]
    }

    func readRecord() throws(InitError) -> Record {
        let path = project + "/" + ProjectGenerator.recordPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw InitError.io("\(path) is missing: only projects made by `devhost init` can be updated")
        }
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(String(decoding: try ManifestFile.read(path, kind: "template record"), as: UTF8.self), file: path)
        } catch {
            throw InitError.templateManifest(error.issues)
        }
        guard let root, let source = root["source"]?.scalar, let kind = root["kind"]?.scalar else {
            throw InitError.io("\(path) has no source or kind")
        }
        var answers: [String: String] = [:]
        for entry in root["answers"]?.entries ?? [] { answers[entry.key] = entry.value.scalar ?? "" }
        return Record(source: source, kind: kind, ref: root["ref"]?.scalar, answers: answers)
    }

    public func update(ref: String? = nil, sets: [String: String] = [:], catalog: TemplateCatalog) throws(InitError) -> Report {
        let record = try readRecord()
        let source: TemplateSource
        switch record.kind {
        case "builtin":
            guard let directory = catalog.directory(named: record.source) else {
                throw InitError.unknownTemplate(record.source, available: catalog.names)
            }
            source = .builtIn(name: record.source, directory: directory)
        case "folder": source = .folder(record.source)
        case "git":
            let target: String?
            if let ref { target = ref } else { target = try Self.newestRef(url: record.source, recorded: record.ref) }
            source = .git(url: record.source, ref: target)
        default: throw InitError.io("unknown template kind \"\(record.kind)\" in \(ProjectGenerator.recordPath)")
        }
        // The base is the template's last output (refs/devhost/template), not the user's files.
        let base: (commit: String, files: [String: [UInt8]])
        do {
            if let recorded = try Git.files(atReference: Git.templateReference, in: project) {
                base = recorded
            } else {
                base = try Git.filesOfLastCommitTouching(ProjectGenerator.recordPath, in: project)
            }
        } catch {
            throw InitError.git(error)
        }

        // The template's new output, rendered with the recorded answers (and any new --set values).
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-update-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var answers = record.answers
        answers.removeValue(forKey: "project_name")
        answers.removeValue(forKey: "project_slug")
        answers.merge(sets) { $1 }
        var options = ProjectGenerator.Options(
            target: scratch.appendingPathComponent("new").path,
            projectName: record.answers["project_name"] ?? URL(fileURLWithPath: project).lastPathComponent,
            sets: answers, useDefaults: true, git: false)
        options.ignoreUnknownSets = true
        let result = try ProjectGenerator(source: source).generate(options)
        var theirs: [String: [UInt8]] = [:]
        for file in result.files {
            theirs[file] = FileManager.default.contents(atPath: result.directory + "/" + file).map { Array($0) } ?? []
        }

        var report = Report(baseCommit: base.commit, source: source.description)
        if case .git(_, let target) = source {
            report.from = record.ref
            report.to = target
        }
        for path in Set(base.files.keys).union(theirs.keys).sorted() where path != "docker-compose.yml" {
            try merge(path, base: base.files[path], theirs: theirs[path], into: &report)
        }
        try regenerateCompose(&report)
        if theirs != base.files {
            do {
                try Git.recordTemplateOutput(theirs, in: project, message: "Template output from \(source)")
            } catch {
                throw InitError.git(error)
            }
        }
        return report
    }

    /// Where a plain `update` goes, as copier's does: the newest release tag when the project follows
    /// releases (made from a release tag, or from no ref), else the recorded ref (a branch moves to
    /// its head, a commit stays). A project already past the newest release stays where it is.
    static func newestRef(url: String, recorded: String?) throws(InitError) -> String? {
        guard recorded == nil || recorded.flatMap(TemplateVersion.init(tag:)) != nil else { return recorded }
        let tags: [String]
        do { tags = try Git.remoteTags(url) } catch { throw InitError.git(error) }
        guard let newest = TemplateVersion.newest(of: tags) else { return recorded }
        if let recorded, let current = TemplateVersion(tag: recorded), current > newest { return recorded }
        return newest.tag
    }

    private func merge(_ path: String, base: [UInt8]?, theirs: [UInt8]?, into report: inout Report) throws(InitError) {
        let file = project + "/" + path
        let ours = FileManager.default.contents(atPath: file).map { Array($0) }
        if theirs == base { return }
        guard let theirs else {
            if ours == base, ours != nil {
                try? FileManager.default.removeItem(atPath: file)
                report.removed.append(path)
            } else if ours != nil {
                report.kept.append(path)
            }
            return
        }
        guard let ours else {
            if base == nil {
                try write(theirs, to: file)
                report.added.append(path)
            } else {
                report.kept.append(path)
            }
            return
        }
        if ours == base || ours == theirs {
            if ours != theirs {
                try write(theirs, to: file)
                report.updated.append(path)
            }
            return
        }
        guard let oursText = String(bytes: ours, encoding: .utf8), let theirsText = String(bytes: theirs, encoding: .utf8),
            let baseText = String(bytes: base ?? [], encoding: .utf8)
        else {
            report.conflicts.append(path + " (binary: kept yours)")
            return
        }
        let result: Git.MergeResult
        do { result = try Git.mergeFile(base: baseText, ours: oursText, theirs: theirsText, path: path) } catch {
            throw InitError.git(error)
        }
        try write(Array(result.text.utf8), to: file)
        if result.hasConflicts { report.conflicts.append(path) } else { report.merged.append(path) }
    }

    /// docker-compose.yml is derived from devhost.yml, so it is made again from the merged manifest
    /// rather than merged as text (unless the user took it over: no devhost header).
    private func regenerateCompose(_ report: inout Report) throws(InitError) {
        let path = project + "/docker-compose.yml"
        if let existing = FileManager.default.contents(atPath: path),
            !String(decoding: existing, as: UTF8.self).hasPrefix(ComposeFile.marker)
        {
            return
        }
        guard let manifest = try? ManifestLoader(environment: [:]).load(project + "/devhost.yml") else { return }
        let file = ComposeFile(manifest: manifest)
        let before = FileManager.default.contents(atPath: path)
        do { try file.write(to: path, force: true) } catch { throw InitError.io("cannot write docker-compose.yml: \(error)") }
        if FileManager.default.contents(atPath: path) != before { report.updated.append("docker-compose.yml") }
    }

    private func write(_ bytes: [UInt8], to path: String) throws(InitError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileWriter.write(bytes, to: path)
        } catch {
            throw InitError.io("cannot write \(path): \(error)")
        }
    }
}
