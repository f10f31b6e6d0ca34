import ArgumentParser
import DevhostRuntime
import Foundation

/// `devhost top`: a full-screen view of the running project over its control socket (docs/top.md).
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Watch the running devhost full-screen: instances with health, CPU and memory, and a service's log as it grows.",
        discussion: "Keys: ↑↓ or j/k select, r restart, s stop/start, l log pane, / filter the log, q quit. Works with `devhost up -d`."
    )

    @OptionGroup var project: ProjectOptions

    /// What `quick` read: the manifest or folder `-f`/`--file` named, if any.
    struct Quick: Equatable {
        var file: String?
    }

    /// `top`, `top -f PATH`, `top --file PATH` and `top --file=PATH`, read without argument-parser:
    /// building its command tree (every subcommand's configuration, reflection over each one's
    /// properties), or even this command's option group, maps megabytes of the binary's code that
    /// top would keep resident for as long as it runs (docs/top.md). Anything else (help, an
    /// unknown or repeated option) returns nil and takes the full parser, so its messages stay
    /// argument-parser's own.
    static func quick(_ arguments: ArraySlice<String>) -> Quick? {
        var file: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            var value: String?
            if argument == "-f" || argument == "--file" {
                guard index < arguments.endIndex, !arguments[index].hasPrefix("-") else { return nil }
                value = arguments[index]
                index += 1
            } else if argument.hasPrefix("--file=") {
                value = String(argument.dropFirst("--file=".count))
            }
            guard let value, file == nil else { return nil }
            file = value
        }
        return Quick(file: file)
    }

    func run() throws {
        try Self.run(file: project.file)
    }

    static func run(file: String?) throws {
        let state = try ProjectOptions.state(file: file)
        guard isatty(STDOUT_FILENO) == 1, isatty(STDIN_FILENO) == 1 else {
            throw CommandFailure(
                message: "devhost top needs a terminal (its input or output is not one); `devhost status` prints the same table once")
        }
        do {
            let app = try TopApp(state: state, colored: Console.standardOutput.colored)
            try app.run()
        } catch {
            throw CommandFailure(message: error.message)
        }
    }
}
