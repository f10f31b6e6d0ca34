import ArgumentParser
import DevhostInit
import Foundation

struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Work with the template a project was made from.",
        subcommands: [Update.self]
    )

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update",
            abstract: "Replay the project's template and merge its changes into your files (3-way, like copier update).",
            discussion: """
                The base of each merge is what devhost generated last (from git history), so your edits \
                are kept. A git template moves to its newest release tag (or the recorded branch's head); \
                --ref picks another branch, tag or commit. Conflicts get markers (<<<<<<< yours / \
                >>>>>>> template) and make the command exit 1. Nothing is committed.
                """
        )

        @Option(help: "The project folder (default: the current folder).")
        var project: String?

        @Option(
            help:
                "For git templates: the branch, tag or commit to update to (default: the newest release tag, or the recorded branch's head)."
        )
        var ref: String?

        @Option(name: .customLong("set"), help: ArgumentHelp("Set or change a template variable.", valueName: "key=value"))
        var sets: [String] = []

        func run() throws {
            var values: [String: String] = [:]
            for item in sets {
                guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--set takes key=value") }
                values[String(item[..<equals])] = String(item[item.index(after: equals)...])
            }
            let updater = TemplateUpdater(project: project ?? FileManager.default.currentDirectoryPath)
            let report: TemplateUpdater.Report
            do {
                report = try updater.update(ref: ref, sets: values, catalog: TemplateCatalog())
            } catch {
                throw CommandFailure(message: error.description)
            }
            let out = Console.standardOutput
            out.line("updated from \(report.source) (base: commit \(report.baseCommit.prefix(8)))")
            if let to = report.to, let from = report.from, from != to {
                out.line("  template: \(from) → \(to)")
            } else if let to = report.to ?? report.from {
                out.line("  template: \(to)" + (ref == nil && TemplateVersion(tag: to) != nil ? " (the newest release)" : ""))
            }
            for (label, files) in [
                ("updated", report.updated), ("merged", report.merged), ("added", report.added), ("removed", report.removed),
                ("kept (yours)", report.kept),
            ] where !files.isEmpty {
                out.line("  \(label): " + files.joined(separator: ", "))
            }
            guard report.conflicts.isEmpty else {
                // As `git merge` does: conflicts are a failure a script must notice, listed where the summary is.
                out.line("  conflicts: " + report.conflicts.joined(separator: ", "))
                out.line(
                    "resolve the <<<<<<< markers in \(counted(report.conflicts.count, "file")), then review with `git diff` and commit")
                throw ExitCode.failure
            }
            out.line(
                report.updated.isEmpty && report.merged.isEmpty && report.added.isEmpty && report.removed.isEmpty
                    ? "nothing to do" : "review with `git diff`, then commit")
        }
    }
}
