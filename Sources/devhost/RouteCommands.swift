import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Standalone routes: NAME.localhost → a port, host:port or URL, served by the proxy.",
        discussion: "Kept in \(RouteFile.defaultPath()) ($DEVHOST_ROUTES overrides). A running proxy picks up changes.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a route: devhost route add api 8000")
        @Argument(help: "Host label: api → api.localhost.") var name: String
        @Argument(help: "8000, host:port or http://host:port.") var target: String
        @Flag(help: "Replace an existing route of that name.") var force = false

        func run() throws {
            let file = RouteFile(path: RouteFile.defaultPath())
            do {
                let entry = try file.add(name: name, target: target, force: force)
                Console.standardOutput.line("\(entry.name).localhost → \(entry.host):\(entry.port)")
            } catch {
                throw CommandFailure(message: error.description)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the routes.", aliases: ["list"])
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let entries: [RouteFile.Entry]
            do { entries = try RouteFile(path: RouteFile.defaultPath()).load() } catch { throw CommandFailure(message: error.description) }
            if json {
                Console.standardOutput.line(
                    JSONValue.object(entries.map { ($0.name, .string("\($0.host):\($0.port)")) }).serialized(pretty: true))
                return
            }
            if entries.isEmpty { Console.standardOutput.line("no routes (add one with `devhost route add NAME PORT`)") }
            let width = entries.map { $0.name.count + 10 }.max() ?? 0
            for entry in entries {
                Console.standardOutput.line(
                    "\(entry.name).localhost".padding(toLength: width, withPad: " ", startingAt: 0) + "  → \(entry.host):\(entry.port)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a route.", aliases: ["remove"])
        @Argument var name: String

        func run() throws {
            do { try RouteFile(path: RouteFile.defaultPath()).remove(name: name) } catch {
                throw CommandFailure(message: error.description)
            }
            Console.standardOutput.line("removed \(name)")
        }
    }
}

/// The Python devhost's spellings: `devhost add api 8000`, `devhost list`, `devhost remove api`.
struct AddAlias: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Same as `devhost route add`.", shouldDisplay: false)
    @OptionGroup var add: RouteCommand.Add
    func run() throws { try add.run() }
}

struct ListAlias: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Same as `devhost route ls`.", shouldDisplay: false)
    @OptionGroup var list: RouteCommand.List
    func run() throws { try list.run() }
}

struct RemoveAlias: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Same as `devhost route rm`.", shouldDisplay: false)
    @OptionGroup var remove: RouteCommand.Remove
    func run() throws { try remove.run() }
}
