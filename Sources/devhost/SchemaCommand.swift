import ArgumentParser
import DevhostManifest

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of devhost.yml (for editors: yaml-language-server, VS Code)."
    )

    func run() throws {
        Console.standardOutput.line(ManifestSchema.json)
    }
}
