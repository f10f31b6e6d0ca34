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

    func run() throws {
        let state = try project.state()
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
