import ArgumentParser
import DevhostCompose
import Foundation

struct ComposeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compose",
        abstract: "Write docker-compose.yml from devhost.yml.",
        discussion: """
            The file carries a header with a checksum: devhost refuses to overwrite a compose file it did not \
            generate, or one edited by hand since, unless --force. Put compose-only settings in a service's \
            compose: block in devhost.yml instead.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .shortAndLong, help: "Write here instead of docker-compose.yml beside the manifest.")
    var output: String?

    @Flag(help: "Print to standard output; write nothing.")
    var stdout = false

    @Flag(help: "Exit 1 with a diff when the file on disk is out of date (for CI); write nothing.")
    var check = false

    @Flag(help: "Overwrite a file devhost did not generate, or one edited by hand.")
    var force = false

    func validate() throws {
        if stdout && check { throw ValidationError("--stdout and --check cannot be combined") }
    }

    func run() throws {
        let manifest = try manifestOptions.load()
        let file = ComposeFile(manifest: manifest)
        let path = output.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? file.defaultPath
        do {
            if stdout {
                Console.standardOutput.write(try file.render())
            } else if check {
                try file.check(path: path)
                Console.standardOutput.line("\(path) is up to date")
            } else {
                try file.write(to: path, force: force)
                Console.standardOutput.line("wrote \(path)")
            }
        } catch let problem as ComposeFile.Problem {
            throw CommandFailure(message: problem.description)
        }
    }
}
