import ArgumentParser
import DevhostInit
import DevhostManifest
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a project from a template, with devhost.yml, docker-compose.yml and a first git commit.",
        discussion: """
            TEMPLATE is a built-in name (see `devhost templates`), a local folder, or a git repository \
            (a URL or a path; --ref picks a branch, tag or commit). Generation is all-or-nothing.
            """
    )

    @Argument(help: "The folder to create; its name is the project name unless --name is given.")
    var directory: String

    @Option(name: [.short, .long], help: "Template name, folder or git URL.")
    var template: String

    @Option(help: "Branch, tag or commit of a git template.")
    var ref: String?

    @Option(help: "Project name (default: the folder's name). Lowercase letters, digits and '-'.")
    var name: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set a template variable.", valueName: "key=value"))
    var sets: [String] = []

    @Flag(help: "Accept every default without prompting.")
    var defaults = false

    @Flag(name: .customLong("no-git"), help: "Do not create a git repository.")
    var noGit = false

    @Flag(help: "Generate into a folder that is not empty.")
    var force = false

    /// `init` with its plain forms, read without argument-parser: building the whole command tree
    /// (every subcommand's configuration, reflection over each one's properties, and a completion
    /// script check) took a tenth of `devhost init`'s time. Anything else (help, an unknown or
    /// repeated option, a value that looks like an option, `--`) returns nil and takes the full
    /// parser, so its messages stay argument-parser's own.
    static func quick(_ arguments: ArraySlice<String>) -> InitCommand? {
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var sets: [String] = []
        var directory: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else {
                if directory != nil { return nil }
                directory = argument
                continue
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if name == "-t" { name = "--template" }
            switch name {
            case "--defaults", "--no-git", "--force":
                guard value == nil, flags.insert(name).inserted else { return nil }
            case "--template", "--ref", "--name", "--set":
                if value == nil {
                    guard index < arguments.endIndex, !arguments[index].hasPrefix("-") else { return nil }
                    value = arguments[index]
                    index += 1
                }
                if name == "--set" {
                    sets.append(value!)
                } else {
                    guard values.updateValue(value!, forKey: name) == nil else { return nil }
                }
            default:
                return nil
            }
        }
        guard let directory, let template = values["--template"] else { return nil }
        var command = InitCommand()
        command.directory = directory
        command.template = template
        command.ref = values["--ref"]
        command.name = values["--name"]
        command.sets = sets
        command.defaults = flags.contains("--defaults")
        command.noGit = flags.contains("--no-git")
        command.force = flags.contains("--force")
        return command
    }

    func run() throws {
        if !noGit { Git.warmUp() }
        var values: [String: String] = [:]
        for item in sets {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--set takes key=value, got \"\(item)\"")
            }
            values[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        let projectName = name ?? target.lastPathComponent
        let out = Console.standardOutput
        let interactive = !defaults && isatty(STDIN_FILENO) == 1
        let source: TemplateSource
        let result: ProjectGenerator.Result
        do {
            source = try TemplateSource.resolve(template, ref: ref, catalog: TemplateCatalog())
            let options = ProjectGenerator.Options(
                target: target.path, projectName: projectName, sets: values, useDefaults: !interactive, git: !noGit, force: force)
            result = try ProjectGenerator(source: source).generate(options, ask: interactive ? { Self.ask($0) } : nil)
        } catch {
            throw CommandFailure(message: error.description)
        }
        out.line("\(out.paint("✓", .green)) created \(result.directory) from \(source) (\(result.files.count) files)")
        if let commit = result.commit, let identity = result.identity {
            out.line("  git: branch main, commit \(commit.prefix(8)) by \(identity.name) <\(identity.email)>")
            if identity.isFallback {
                Console.standardError.warning(
                    "git has no user.name/user.email; the first commit is by devhost <devhost@localhost>. Set them with `git config --global user.name …` and amend if you like."
                )
            }
        }
        if let note = result.gitNote { Console.standardError.warning(note) }
        out.line("")
        out.line("Next:")
        out.line("  cd \(directory)")
        out.line("  devhost up")
    }

    static func ask(_ variable: TemplateDefinition.Variable) -> String? {
        var prompt = variable.prompt
        if !variable.choices.isEmpty { prompt += " (\(variable.choices.joined(separator: "/")))" }
        if let value = variable.defaultValue { prompt += " [\(value)]" }
        Console.standardOutput.write(prompt + ": ")
        guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return line.trimmingCharacters(in: .whitespaces)
    }
}

struct TemplatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "templates",
        abstract: "List the built-in templates."
    )

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let catalog = TemplateCatalog()
        guard catalog.root != nil else {
            throw CommandFailure(message: "the built-in templates were not found (set DEVHOST_TEMPLATES, or install with `make install`)")
        }
        let definitions: [TemplateDefinition]
        do { definitions = try catalog.definitions() } catch { throw CommandFailure(message: error.description) }
        let out = Console.standardOutput
        if json {
            let items = definitions.map { definition in
                "{\"name\":\(quoted(definition.name)),\"description\":\(quoted(definition.description)),\"variables\":["
                    + definition.variables.map { variable in
                        "{\"name\":\(quoted(variable.name)),\"default\":\(variable.defaultValue.map(quoted) ?? "null"),\"choices\":[\(variable.choices.map(quoted).joined(separator: ","))]}"
                    }.joined(separator: ",") + "]}"
            }
            out.line("[" + items.joined(separator: ",") + "]")
            return
        }
        let width = definitions.map(\.name.count).max() ?? 0
        for definition in definitions {
            out.line(
                out.paint(definition.name.padding(toLength: width, withPad: " ", startingAt: 0), .cyan) + "  " + definition.description)
        }
    }

    private func quoted(_ text: String) -> String {
        var output = ""
        JSONValue.escape(text, into: &output)
        return output
    }
}
