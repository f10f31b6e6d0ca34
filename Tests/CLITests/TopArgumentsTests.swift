import ArgumentParser
import Testing

@testable import devhost

/// `devhost top` reads its plain forms without argument-parser (`TopCommand.quick`, which keeps the
/// command tree's pages out of top's resident memory); these tests hold it to argument-parser's
/// reading of the same arguments, and to leaving everything else to it.
@Suite struct TopArgumentsTests {
    @Test(arguments: [
        [], ["-f", "shop"], ["--file", "shop/devhost.yml"], ["--file=shop"], ["--file=a=b"], ["-f", "dir with spaces"],
    ])
    func quickReadsWhatArgumentParserReads(_ arguments: [String]) throws {
        let quick = try #require(TopCommand.quick(arguments[...]), "the fast path refused \(arguments)")
        let full = try TopCommand.parse(arguments)
        #expect(quick == TopCommand.Quick(file: full.project.file))
    }

    @Test(arguments: [
        ["--help"], ["-h"], ["-f"], ["--file"], ["-f", "--help"], ["-f", "a", "-f", "b"], ["--file=a", "--file", "b"],
        ["shop"], ["--verbose"], ["-f", "a", "--"], ["-fshop"], ["--", "-f", "a"],
    ])
    func everythingElseIsLeftToArgumentParser(_ arguments: [String]) {
        #expect(TopCommand.quick(arguments[...]) == nil)
    }

    /// A new option on `top` must be taught to `quick` too.
    @Test func quickKnowsEveryOptionOfTop() {
        let properties = Mirror(reflecting: TopCommand()).children.compactMap(\.label).sorted()
        #expect(properties == ["_project"])
        let project = Mirror(reflecting: ProjectOptions()).children.compactMap(\.label).sorted()
        #expect(project == ["_file"])
    }
}
