import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@Suite struct ComposeFileGuardTests {
    let manifest = "services:\n  api: { command: ./api, image: alpine }\n"

    @Test func checkPassesWhenUpToDateAndFailsWithADiff() throws {
        let project = try TempProject(["devhost.yml": manifest])
        var file = ComposeFile(manifest: try project.load())
        #expect(throws: ComposeFile.Problem.missing(path: file.defaultPath)) { try file.check(path: file.defaultPath) }
        try file.write(to: file.defaultPath, force: false)
        try file.check(path: file.defaultPath)

        try project.write("devhost.yml", "services:\n  api: { command: ./api --fast, image: alpine }\n")
        file = ComposeFile(manifest: try project.load())
        do {
            try file.check(path: file.defaultPath)
            Issue.record("an out-of-date file passed --check")
        } catch let ComposeFile.Problem.outOfDate(_, diff) {
            #expect(diff.contains("-      - ./api\n+      - \"./api --fast\""), "\(diff)")
        }
    }

    @Test func regeneratingOverAnUneditedFileIsAllowed() throws {
        let project = try TempProject(["devhost.yml": manifest])
        let file = ComposeFile(manifest: try project.load())
        try file.write(to: file.defaultPath, force: false)
        try file.write(to: file.defaultPath, force: false)
    }

    @Test func aFileDevhostDidNotWriteIsNeverOverwrittenWithoutForce() throws {
        let handWritten = "services:\n  mine: { image: nginx }\n"
        let project = try TempProject(["devhost.yml": manifest, "docker-compose.yml": handWritten])
        let file = ComposeFile(manifest: try project.load())
        #expect(throws: ComposeFile.Problem.notGenerated(path: file.defaultPath)) { try file.write(to: file.defaultPath, force: false) }
        #expect(try project.read("docker-compose.yml") == handWritten)
        try file.write(to: file.defaultPath, force: true)
        #expect(try project.read("docker-compose.yml") == file.render())
    }

    @Test func handEditsAreDetected() throws {
        let project = try TempProject(["devhost.yml": manifest])
        let file = ComposeFile(manifest: try project.load())
        try file.write(to: file.defaultPath, force: false)
        let edited = try project.read("docker-compose.yml").replacingOccurrences(of: "image: alpine", with: "image: alpine:3.20")
        try project.write("docker-compose.yml", edited)
        #expect(throws: ComposeFile.Problem.editedByHand(path: file.defaultPath)) { try file.write(to: file.defaultPath, force: false) }
        #expect(try project.read("docker-compose.yml") == edited, "the hand edit must survive")
    }

    @Test func diffShowsOnlyChangedRegions() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n")
        let new = old.replacingOccurrences(of: "line 10", with: "line ten")
        let diff = LineDiff.unified(old: old, new: new, oldName: "a", newName: "b")
        #expect(diff == "--- a\n+++ b\n line 8\n line 9\n-line 10\n+line ten\n line 11\n line 12")
    }
}
