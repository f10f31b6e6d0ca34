import ArgumentParser
import Testing

@testable import devhost

/// `devhost init` reads its plain forms without argument-parser (`InitCommand.quick`); these tests
/// hold it to argument-parser's reading of the same arguments, and to leaving everything else to it.
@Suite struct InitArgumentsTests {
    struct Reading: Equatable, CustomStringConvertible {
        var directory, template: String
        var ref, name: String?
        var sets: [String]
        var defaults, noGit, force: Bool

        init(_ command: InitCommand) {
            directory = command.directory
            template = command.template
            ref = command.ref
            name = command.name
            sets = command.sets
            defaults = command.defaults
            noGit = command.noGit
            force = command.force
        }

        var description: String {
            "\(directory) \(template) ref=\(ref ?? "-") name=\(name ?? "-") sets=\(sets) \(defaults) \(noGit) \(force)"
        }
    }

    @Test(arguments: [
        ["--template", "fastapi", "shop"],
        ["shop", "-t", "flask"],
        ["-t", "node", "--defaults", "shop", "--no-git", "--force"],
        ["--template=django", "--ref", "v1.2", "--name", "my-shop", "shop"],
        ["--set", "python_version=3.12", "--set=port=8001", "-t", "fastapi", "--set", "empty=", "dir/with/parts"],
        ["--template", "./templates/a=b", "--name=x", "--ref=main", "shop", "--defaults"],
    ])
    func quickReadsWhatArgumentParserReads(_ arguments: [String]) throws {
        let quick = try #require(InitCommand.quick(arguments[...]), "the fast path refused \(arguments)")
        let full = try InitCommand.parse(arguments)
        #expect(Reading(quick) == Reading(full))
    }

    @Test(arguments: [
        ["--help"], ["-h"], ["shop", "-t", "fastapi", "--help"],
        ["-t"], ["shop"], ["-t", "fastapi"],
        ["-tfastapi", "shop"], ["-t", "fastapi", "one", "two"],
        ["-t", "fastapi", "-t", "flask", "shop"], ["-t", "fastapi", "--defaults", "--defaults", "shop"],
        ["-t", "fastapi", "--", "shop"], ["-t", "--defaults", "shop"], ["-t", "fastapi", "--verbose", "shop"],
        ["-t", "fastapi", "--defaults=yes", "shop"],
    ])
    func everythingElseIsLeftToArgumentParser(_ arguments: [String]) {
        #expect(InitCommand.quick(arguments[...]) == nil)
    }

    /// A new option on `init` must be taught to `quick` too (and added to `Reading` above).
    @Test func quickKnowsEveryOptionOfInit() {
        let properties = Mirror(reflecting: InitCommand()).children.compactMap(\.label).sorted()
        #expect(properties == ["_defaults", "_directory", "_force", "_name", "_noGit", "_ref", "_sets", "_template"])
    }
}
