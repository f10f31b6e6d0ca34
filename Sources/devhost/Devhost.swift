import ArgumentParser
import DevhostInit
import Foundation

/// The command tree. Each subcommand is a thin layer over a module; none holds logic of its own.
struct Devhost: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "devhost",
        abstract: "From nothing to a running multi-service dev environment.",
        discussion: """
            devhost scaffolds projects from templates, runs their services as supervised processes behind \
            a local reverse proxy (http://api.NAME.localhost:7777), and writes docker-compose files from \
            the same devhost.yml.
            """,
        version: version,
        subcommands: [
            InitCommand.self, TemplatesCommand.self, TemplateCommand.self, UpCommand.self, StatusCommand.self, LogsCommand.self,
            RestartCommand.self, StopCommand.self, StartCommand.self, DownCommand.self, ReloadCommand.self, DoctorCommand.self,
            ProxyCommand.self, RouteCommand.self, ValidateCommand.self, ComposeCommand.self, KubeCommand.self, SchemaCommand.self,
            MCPCommand.self, TopCommand.self, TrustCommand.self, HostsCommand.self, ImportCommand.self, RequestsCommand.self,
            ReplayCommand.self, FaultCommand.self,
            AddAlias.self, ListAlias.self, RemoveAlias.self,
        ]
    )
}

@main
enum Entry {
    static func main() async {
        do {
            let arguments = CommandLine.arguments.dropFirst()
            if arguments.first == "init", let command = InitCommand.quick(arguments.dropFirst()) {
                try command.run()
                return Git.settle()
            }
            if arguments.first == "top", let quick = TopCommand.quick(arguments.dropFirst()) {
                try TopCommand.run(file: quick.file)
                return Git.settle()
            }
            var command = try Devhost.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Git.settle()
        } catch {
            Devhost.exitWithConventionalCode(error)
        }
    }
}

extension Devhost {
    /// Exit codes as documented: 0 ok, 1 failure, 2 usage (argument-parser's own default is 64).
    static func exitWithConventionalCode(_ error: Error) -> Never {
        Git.settle()
        let code = exitCode(for: error)
        if code == .success {
            exit(withError: error)
        }
        if let failure = error as? CommandFailure {
            Console.standardError.error(failure.message)
            Foundation.exit(failure.exitCode)
        }
        if code == .validationFailure {
            let message = fullMessage(for: error)
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(2)
        }
        if error is ExitCode { Foundation.exit(code.rawValue) }
        Console.standardError.error(String(describing: error))
        Foundation.exit(1)
    }
}

/// A failure a command already explained; printed as one `error:` line.
struct CommandFailure: Error {
    var message: String
    var exitCode: Int32 = 1
}
