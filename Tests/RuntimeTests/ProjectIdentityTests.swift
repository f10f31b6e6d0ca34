import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// `ProjectIdentity` against real repositories made by the git CLI: a main checkout, linked
/// worktrees (`git worktree add`) on a branch and detached, a folder nested inside, a plain folder.
@Suite("project identity: repository and branch from git's files")
struct ProjectIdentityTests {
    /// A temporary folder holding a repository `main` with one commit on branch `main`.
    final class Repository {
        let root: TempProject
        let main: String

        init() throws {
            root = try TempProject()
            main = root.file("main")
            try FileManager.default.createDirectory(atPath: main + "/api/src", withIntermediateDirectories: true)
            try git(["init", "-q", "-b", "main", main])
            try "x\n".write(toFile: main + "/api/src/app.py", atomically: false, encoding: .utf8)
            try git(["-C", main, "add", "."])
            try git(["-C", main, "-c", "user.name=devhost", "-c", "user.email=devhost@localhost", "commit", "-q", "-m", "first"])
        }

        func git(_ arguments: [String]) throws {
            // No user or system configuration: a developer's init.defaultBranch or hooks cannot change the result.
            var environment = ProcessInfo.processInfo.environment
            environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
            environment["GIT_CONFIG_NOSYSTEM"] = "1"
            let result = try run(["git"] + arguments, environment: environment)
            guard result.status == 0 else { throw ProjectIdentity.Problem(file: "git \(arguments)", message: result.output) }
        }

        func head(_ folder: String) throws -> String {
            try run(["git", "-C", folder, "rev-parse", "HEAD"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        var commonDir: String { canonical(main + "/.git") }
    }

    @Test("the main checkout, a linked worktree on feature/x, a nested folder in each")
    func mainAndWorktree() throws {
        let repo = try Repository()
        let main = try ProjectIdentity.of(folder: repo.main)
        #expect(main == ProjectIdentity(folder: canonical(repo.main), commonDir: repo.commonDir, branchLabel: "main"))

        let worktree = repo.root.file("feature-x")
        try repo.git(["-C", repo.main, "worktree", "add", "-q", "-b", "feature/x", worktree])
        let linked = try ProjectIdentity.of(folder: worktree)
        #expect(
            linked
                == ProjectIdentity(folder: canonical(worktree), commonDir: repo.commonDir, branchLabel: "feature-x", isLinkedWorktree: true)
        )

        let nested = try ProjectIdentity.of(folder: repo.main + "/api/src")
        #expect(nested.folder == canonical(repo.main + "/api/src") && nested.commonDir == repo.commonDir && nested.branchLabel == "main")
        let nestedInWorktree = try ProjectIdentity.of(folder: worktree + "/api")
        #expect(
            nestedInWorktree.commonDir == repo.commonDir && nestedInWorktree.branchLabel == "feature-x" && nestedInWorktree.isLinkedWorktree
        )

        // A link to the worktree is the same worktree.
        let link = repo.root.file("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: worktree)
        #expect(try ProjectIdentity.of(folder: link) == linked)

        // Both checkouts serve api.shop.localhost: the worktree gets its branch prefix.
        let decision = HostClaim.decide(
            existing: [.init(folder: main.folder, commonDir: main.commonDir, hosts: ["api.shop.localhost"])],
            new: .init(identity: linked, hosts: ["api.shop.localhost"]))
        guard case .prefix("feature-x", let rule) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(rule.contains(linked.folder) && rule.contains(main.folder) && rule.contains("feature-x.api.shop.localhost"))
    }

    @Test("a detached HEAD is named by its short hash; a branch name becomes a DNS label")
    func detachedAndOddBranches() throws {
        let repo = try Repository()
        let detached = repo.root.file("detached")
        try repo.git(["-C", repo.main, "worktree", "add", "-q", "--detach", detached, "HEAD"])
        let identity = try ProjectIdentity.of(folder: detached)
        #expect(identity.branchLabel == String(try repo.head(repo.main).prefix(7)) && identity.commonDir == repo.commonDir)

        let odd = repo.root.file("odd")
        let branch = "Feature/JIRA-123_Fix--the_Thing/" + String(repeating: "long", count: 20)
        try repo.git(["-C", repo.main, "worktree", "add", "-q", "-b", branch, odd])
        let label = try #require(try ProjectIdentity.of(folder: odd).branchLabel)
        #expect(label.hasPrefix("feature-jira-123-fix-the-thing-longlong") && label.utf8.count <= 63 && !label.hasSuffix("-"), "\(label)")
        #expect(DNSLabel.problem(label) == nil, "\(label)")

        // The main checkout detached too.
        try repo.git(["-C", repo.main, "checkout", "-q", "--detach"])
        #expect(try ProjectIdentity.of(folder: repo.main).branchLabel == String(try repo.head(repo.main).prefix(7)))
    }

    @Test(
        "branch labels",
        arguments: [
            ("main", "main"), ("feature/x", "feature-x"), ("Feature/X", "feature-x"), ("fix/#12_crash", "fix-12-crash"),
            ("-lead/trail-", "lead-trail"), ("a//b", "a-b"), ("ünïcode/ß", "n-code"), ("___", ""),
            (String(repeating: "a", count: 62) + "/b", String(repeating: "a", count: 62)),
        ])
    func labels(branch: String, label: String) {
        #expect(ProjectIdentity.dnsLabel(branch) == label)
    }

    @Test("a folder outside any repository has no repository; a broken .git file is named")
    func notGitAndBroken() throws {
        let plain = try TempProject(["devhost.yml": "name: shop\n"])
        #expect(
            try ProjectIdentity.of(folder: plain.path) == ProjectIdentity(folder: canonical(plain.path), commonDir: nil, branchLabel: nil))

        let broken = try TempProject([".git": "not a pointer\n"])
        #expect(
            throws: ProjectIdentity.Problem(
                file: canonical(broken.path) + "/.git",
                message: "line 1: expected `gitdir: PATH` (a linked worktree or submodule), found \"not a pointer\"")
        ) {
            try ProjectIdentity.of(folder: broken.path)
        }
        let dangling = try TempProject([".git": "gitdir: /nonexistent/.git/worktrees/x\n"])
        #expect(throws: ProjectIdentity.Problem.self) { try ProjectIdentity.of(folder: dangling.path) }
    }
}

/// The path with links resolved, as `ProjectIdentity` reports folders.
private func canonical(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}
