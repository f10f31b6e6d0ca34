import ArgumentParser
import Testing

@testable import devhost

/// `--help` as argument-parser prints it: paragraphs it can wrap itself, and golden texts for the
/// commands a new user reads first (as argument-parser's own examples test theirs).
@Suite struct HelpTextTests {
    static func everyCommand(_ root: ParsableCommand.Type = Devhost.self) -> [ParsableCommand.Type] {
        [root] + root.configuration.subcommands.flatMap { everyCommand($0) }
    }

    /// A hard line break inside a paragraph is printed as is, after argument-parser has wrapped the
    /// line before it: `…supervised\nprocesses behind\na local…`. Paragraphs are one line each.
    @Test func abstractsAndDiscussionsBreakOnlyBetweenParagraphs() {
        for command in Self.everyCommand() {
            let configuration = command.configuration
            for text in [configuration.abstract, configuration.discussion] {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                for (index, line) in lines.enumerated().dropLast() where !line.isEmpty {
                    let next = lines[index + 1]
                    #expect(
                        next.isEmpty || next.hasPrefix("- ") || next.hasPrefix("  "),
                        "\(configuration.commandName ?? "devhost"): a line break inside a paragraph after \"\(line)\"")
                }
            }
        }
    }

    @Test(arguments: [[String](), ["init"], ["template", "update"], ["up"]])
    func helpWrapsWithinEightyColumnsAtWordBoundaries(_ path: [String]) throws {
        let text = Devhost.helpMessage(for: try Self.command(path), columns: 80)
        for line in text.split(separator: "\n") where !line.hasPrefix("USAGE:") {
            #expect(line.count <= 80, "\(path): \(line)")
        }
        // Each paragraph's last line is the only short one: no line under 50 columns is followed by
        // more of the same paragraph.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let overview = lines.prefix { !$0.hasPrefix("USAGE:") }
        for (index, line) in overview.enumerated().dropLast() where !line.isEmpty && line.count < 50 {
            let next = overview[overview.startIndex + index + 1]
            #expect(next.isEmpty || next.first?.isUppercase == true, "\(path): short line \"\(line)\" before \"\(next)\"")
        }
    }

    static func command(_ path: [String]) throws -> ParsableCommand.Type {
        var current: ParsableCommand.Type = Devhost.self
        for name in path {
            current = try #require(current.configuration.subcommands.first { $0.configuration.commandName == name })
        }
        return current
    }

    @Test func rootHelpIsGolden() {
        #expect(
            Devhost.helpMessage(for: Devhost.self, columns: 80).hasPrefix(Self.rootOverview),
            "\(Devhost.helpMessage(for: Devhost.self, columns: 80))")
    }

    @Test func initAndTemplateUpdateHelpAreGolden() throws {
        #expect(Devhost.helpMessage(for: InitCommand.self, columns: 80).hasPrefix(Self.initOverview))
        #expect(Devhost.helpMessage(for: TemplateCommand.Update.self, columns: 80).hasPrefix(Self.updateOverview))
    }

    static let initOverview = """
        OVERVIEW: Create a project from a template, with devhost.yml,
        docker-compose.yml and a first git commit.

        TEMPLATE is a built-in name (see `devhost templates`), a local folder, or a git
        repository (a URL or a path; --ref picks a branch, tag or commit). Generation
        is all-or-nothing.

        USAGE: devhost init <directory>
        """

    static let updateOverview = """
        OVERVIEW: Replay the project's template and merge its changes into your files
        (3-way, like copier update).

        The base of each merge is what devhost generated last (from git history), so
        your edits are kept. A git template moves to its newest release tag (or the
        recorded branch's head); --ref picks another branch, tag or commit. Conflicts
        get markers (<<<<<<< yours / >>>>>>> template) and make the command exit 1.
        Nothing is committed.

        USAGE: devhost template update
        """

    static let rootOverview = """
        OVERVIEW: From nothing to a running multi-service dev environment.

        devhost scaffolds projects from templates, runs their services as supervised
        processes behind a local reverse proxy (http://api.NAME.localhost:7777), and
        writes docker-compose files from the same devhost.yml.

        USAGE: devhost <subcommand>

        """
}
