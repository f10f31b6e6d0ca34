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
                    #expect(next.isEmpty || next.hasPrefix("- ") || next.hasPrefix("  "),
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
        #expect(Devhost.helpMessage(for: Devhost.self, columns: 80).hasPrefix(Self.rootOverview), "\(Devhost.helpMessage(for: Devhost.self, columns: 80))")
    }

    static let rootOverview = """
        OVERVIEW: From nothing to a running multi-service dev environment.

        devhost scaffolds projects from templates, runs their services as supervised
        processes behind a local reverse proxy (http://api.NAME.localhost:7777), and
        writes docker-compose files from the same devhost.yml.

        USAGE: devhost <subcommand>

        """
}
