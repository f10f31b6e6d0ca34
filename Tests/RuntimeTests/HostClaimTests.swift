import Foundation
import Testing

@testable import DevhostRuntime

/// The name-clash rule as a table: who already serves what, who asks, and the decision.
@Suite("host claims: restart, worktree prefix, or refusal")
struct HostClaimTests {
    static let repo = "/src/shop/.git"
    static let main = HostClaim.Running(folder: "/src/shop", commonDir: repo, hosts: ["api.shop.localhost", "www.shop.localhost"])
    static let blog = HostClaim.Running(folder: "/src/blog", commonDir: "/src/blog/.git", hosts: ["blog.localhost"])

    static func claim(_ folder: String, _ commonDir: String?, _ branch: String?, _ hosts: [String]) -> HostClaim.Claim {
        .init(folder: folder, commonDir: commonDir, branch: branch, hosts: hosts)
    }

    @Test("accepted: nothing running, the same folder again (a restart), or hosts nobody else serves")
    func accepted() {
        #expect(HostClaim.decide(existing: [], new: Self.claim("/src/shop", Self.repo, "main", ["api.shop.localhost"])) == .accept)
        #expect(HostClaim.decide(existing: [Self.main], new: Self.claim("/src/shop", Self.repo, "main", ["api.shop.localhost"])) == .accept)
        #expect(HostClaim.decide(existing: [Self.main, Self.blog], new: Self.claim("/src/cms", nil, nil, ["cms.localhost"])) == .accept)
        // A worktree whose hosts nobody serves keeps its plain names.
        #expect(
            HostClaim.decide(existing: [Self.blog], new: Self.claim("/wt/x", Self.repo, "feature-x", ["api.shop.localhost"])) == .accept)
    }

    @Test("a checkout of the same repository gets its branch as a prefix, and is told why")
    func prefixed() {
        let decision = HostClaim.decide(
            existing: [Self.blog, Self.main],
            new: Self.claim("/wt/feature-x", Self.repo, "feature-x", ["API.shop.localhost", "admin.shop.localhost"]))
        guard case .prefix(let label, let rule) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(label == "feature-x")
        #expect(
            rule == "/wt/feature-x is a git worktree of the same repository as /src/shop, which already serves api.shop.localhost: "
                + "its hosts carry the branch prefix feature-x (feature-x.API.shop.localhost)")
        // The main checkout arriving after a worktree that took the plain names is prefixed the same way.
        let worktree = HostClaim.Running(folder: "/wt/feature-x", commonDir: Self.repo, hosts: ["api.shop.localhost"])
        #expect(
            HostClaim.decide(existing: [worktree], new: Self.claim("/src/shop", Self.repo, "main", ["api.shop.localhost"])).isPrefix("main")
        )
    }

    @Test("refused: unrelated folders, no repository on either side, a prefixed name taken too, no branch")
    func refused() {
        let cases: [(String, [HostClaim.Running], HostClaim.Claim, [String])] = [
            (
                "another repository", [Self.main], Self.claim("/src/fork", "/src/fork/.git", "main", ["api.shop.localhost"]),
                [
                    "api.shop.localhost is already served by the project in /src/shop",
                    "/src/fork is not a checkout of the same git repository",
                    "`devhost down` in /src/shop",
                ]
            ),
            (
                "no repository on either side is not the same repository",
                [.init(folder: "/a", commonDir: nil, hosts: ["x.localhost"])], Self.claim("/b", nil, nil, ["x.localhost"]),
                ["x.localhost is already served by the project in /a", "/b is not"]
            ),
            (
                "a sibling and a stranger: the stranger decides",
                [Self.main, .init(folder: "/other", commonDir: "/other/.git", hosts: ["api.shop.localhost"])],
                Self.claim("/wt/x", Self.repo, "x", ["api.shop.localhost"]), ["served by the project in /other", "/wt/x is not"]
            ),
            (
                "two worktrees on the same commit",
                [Self.main, .init(folder: "/wt/a", commonDir: Self.repo, hosts: ["abc1234.api.shop.localhost"])],
                Self.claim("/wt/b", Self.repo, "abc1234", ["api.shop.localhost"]),
                [
                    "api.shop.localhost is served by /src/shop", "abc1234.api.shop.localhost is already served by /wt/a",
                    "/wt/b was not started",
                ]
            ),
            (
                "a sibling without a branch", [Self.main],
                Self.claim("/wt/x", Self.repo, nil, ["www.shop.localhost", "api.shop.localhost"]),
                ["api.shop.localhost, www.shop.localhost are already served by /src/shop", "no branch name"]
            ),
        ]
        for (name, existing, new, phrases) in cases {
            let decision = HostClaim.decide(existing: existing, new: new)
            guard case .refuse(let message) = decision else {
                Issue.record("\(name): \(decision)")
                continue
            }
            for phrase in phrases { #expect(message.contains(phrase), "\(name): \(message)") }
        }
    }
}

extension HostClaim.Decision {
    func isPrefix(_ label: String) -> Bool {
        if case .prefix(label, _) = self { return true }
        return false
    }
}
