import DevhostInit
import DevhostTestSupport
import Foundation
import Testing

/// `devhost template update` follows a git template's releases as copier does, and fails on conflicts as `git merge` does.
@Suite struct TemplateReleaseTests {
    /// A template repository released as v1.0.0 ("one"), v1.2.0 and v1.10.0 ("ten"), then an unreleased commit on main.
    func releasedTemplate() throws -> TempProject {
        let repo = try TempProject([
            "template.yml": "name: released\n",
            "files/devhost.yml": "name: {{project_name}}\nservices:\n  web: { command: ./web }\n",
            "files/version.txt": "one\n",
            "files/conflict.txt": "original\n",
        ])
        func git(_ arguments: String...) throws {
            let result = try run(["git"] + arguments, in: repo.path)
            #expect(result.status == 0, "git \(arguments): \(result.output)")
        }
        try git("init", "-q", "-b", "main")
        try git("add", "-A")
        try git("commit", "-qm", "one")
        try git("tag", "v1.0.0")
        for (text, tag) in [("two", "v1.2.0"), ("ten", "v1.10.0"), ("unreleased", "v2.0.0-rc.1"), ("later", "")] {
            try repo.write("files/version.txt", text + "\n")
            try repo.write("files/conflict.txt", text + "\n")
            try git("commit", "-qam", text)
            if !tag.isEmpty { try git("tag", "-a", tag, "-m", tag) }
        }
        return repo
    }

    @Test func plainUpdateMovesToTheNewestReleaseTag() throws {
        let repo = try releasedTemplate()
        let parent = try TempProject()
        let project = parent.path + "/shop"
        _ = try ProjectGenerator(source: .git(url: repo.path, ref: "v1.0.0")).generate(.init(target: project, projectName: "shop"))
        let report = try TemplateUpdater(project: project).update(catalog: builtInCatalog)
        #expect(try parent.read("shop/version.txt") == "ten\n", "\(report)")
        #expect(report.from == "v1.0.0" && report.to == "v1.10.0", "\(report)")
        #expect(try parent.read("shop/.devhost/template.yml").contains("v1.10.0"))
    }

    @Test func refStillPicksAnyBranchTagOrCommit() throws {
        let repo = try releasedTemplate()
        let parent = try TempProject()
        let project = parent.path + "/shop"
        _ = try ProjectGenerator(source: .git(url: repo.path, ref: "v1.0.0")).generate(.init(target: project, projectName: "shop"))
        let report = try TemplateUpdater(project: project).update(ref: "v1.2.0", catalog: builtInCatalog)
        #expect(try parent.read("shop/version.txt") == "two\n" && report.to == "v1.2.0", "\(report)")
    }

    @Test func conflictsExitOneAndAreListedOnStandardOutput() throws {
        let repo = try releasedTemplate()
        let parent = try TempProject()
        let project = parent.path + "/shop"
        _ = try ProjectGenerator(source: .git(url: repo.path, ref: "v1.0.0")).generate(.init(target: project, projectName: "shop"))
        try parent.write("shop/conflict.txt", "mine\n")
        #expect(try run(["git", "commit", "-qam", "mine"], in: project).status == 0)
        // Standard error is dropped: the conflicts must be in the summary on standard output.
        let result = try run(["sh", "-c", "NO_COLOR=1 \"$0\" template update 2>/dev/null", devhostBinary], in: project)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("conflicts: conflict.txt"), "\(result.output)")
        #expect(result.output.contains("v1.0.0 → v1.10.0"), "\(result.output)")
    }

    @Test(arguments: [
        (["v1.0.0", "v1.2.0", "v1.10.0"], "v1.10.0"), (["1.2", "v1.1.9"], "1.2"), (["v2.0.0-rc.1", "v1.0.0", "latest"], "v1.0.0"),
        (["nightly", "main"], nil),
    ])
    func newestReleaseIsBySemanticVersion(tags: [String], newest: String?) {
        #expect(TemplateVersion.newest(of: tags)?.tag == newest)
    }
}
