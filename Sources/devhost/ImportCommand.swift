import ArgumentParser
import DevhostManifest
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn another tool's configuration into devhost services.",
        subcommands: [ImportLocalPortCommand.self]
    )
}

struct ImportLocalPortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "localport",
        abstract: "Turn a LocalPort config (localport.yaml) into forward services in devhost.yml.",
        discussion: """
            Each LocalPort service becomes a forward: service on the same local port, with its health check \
            and restart budget. What has no devhost counterpart is listed on stderr. The services are added \
            to devhost.yml (created when missing) without touching anything else in it; a service of the \
            same name is refused unless --force replaces it.
            """
    )

    @Argument(help: "The LocalPort config.")
    var file: String

    @Option(name: [.short, .customLong("file")], help: "The devhost.yml to write (default: devhost.yml in the current folder).")
    var manifest: String = "devhost.yml"

    @Flag(help: "Print the services instead of writing devhost.yml.")
    var stdout = false

    @Flag(help: "Replace services of the same name.")
    var force = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure(message: "cannot read \(file)") }
        let converted: LocalPortImport.Converted
        do {
            converted = try LocalPortImport.convert(
                String(decoding: data, as: UTF8.self), file: file, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure(message: error.issues.map(\.description).joined(separator: "\n"))
        }
        let err = Console.standardError
        for note in converted.notes { err.line("note: \(note)") }
        if stdout {
            Console.standardOutput.write(converted.manifest)
            return
        }
        let existing = FileManager.default.contents(atPath: manifest).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let merged: String
        do {
            merged = try ServicesMerge.merge(converted.services, into: existing, file: manifest, force: force)
        } catch {
            throw CommandFailure(message: error.issues.map(\.description).joined(separator: "\n"))
        }
        // Checked as devhost will read it before it replaces the file: a bad result never lands.
        let trial = (manifest as NSString).deletingLastPathComponent.appending(
            ((manifest as NSString).deletingLastPathComponent.isEmpty ? "" : "/") + ".devhost-import-\(getpid()).yml")
        try merged.write(toFile: trial, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: trial) }
        do {
            _ = try ManifestLoader().load(trial)
        } catch {
            throw CommandFailure(message: "the merged manifest would not load:\n" + error.issues.map(\.description).joined(separator: "\n"))
        }
        try AtomicFile.write(merged, to: manifest)
        err.line("added \(converted.services.map(\.name).joined(separator: ", ")) to \(manifest)")
    }
}
