import DevhostManifest
import Foundation

/// Whether a project starting in one folder may serve the hosts it asks for, given what the projects
/// already running serve. Pure: the caller gathers both sides (`ProjectIdentity`, the edge's list).
///
/// 1. Hosts no other folder serves, or only the same folder (a restart): accept.
/// 2. Hosts another checkout of the same repository serves (the main checkout and its linked
///    worktrees share a git common dir): prefix every host with the branch label,
///    `feature-x.api.shop.localhost`, unless the prefixed names clash too.
/// 3. Anything else: refuse, naming both folders and the hosts, since serving one project's names
///    from another's code is the kind of mistake nobody notices until data lands in the wrong place.
public enum HostClaim {
    public struct Running: Sendable, Equatable {
        public var folder: String
        public var commonDir: String?
        public var hosts: [String]

        public init(folder: String, commonDir: String?, hosts: [String]) {
            self.folder = folder
            self.commonDir = commonDir
            self.hosts = hosts
        }
    }

    public struct Claim: Sendable, Equatable {
        public var folder: String
        public var commonDir: String?
        public var branch: String?
        public var hosts: [String]

        public init(folder: String, commonDir: String?, branch: String?, hosts: [String]) {
            self.folder = folder
            self.commonDir = commonDir
            self.branch = branch
            self.hosts = hosts
        }

        public init(identity: ProjectIdentity, hosts: [String]) {
            self.init(folder: identity.folder, commonDir: identity.commonDir, branch: identity.branchLabel, hosts: hosts)
        }
    }

    public enum Decision: Sendable, Equatable {
        case accept
        /// Serve `label.HOST` for every host; `rule` says why, to be printed at start.
        case prefix(String, rule: String)
        case refuse(String)
    }

    public static func decide(existing: [Running], new: Claim) -> Decision {
        let others = existing.filter { $0.folder != new.folder }
        let clashes = clashing(new.hosts, others)
        guard !clashes.isEmpty else { return .accept }
        let unrelated = clashes.filter { new.commonDir == nil || $0.running.commonDir != new.commonDir }
        if let first = unrelated.first {
            return .refuse(
                "\(list(first.hosts)) \(first.hosts.count == 1 ? "is" : "are") already served by the project in \(first.running.folder); "
                    + "\(new.folder) is not a checkout of the same git repository, so it cannot share or prefix them. "
                    + "Stop the other (`devhost down` in \(first.running.folder)) or give this project another name (`name:` in devhost.yml)"
            )
        }
        let sibling = clashes[0].running.folder
        guard let label = new.branch, DNSLabel.problem(label) == nil else {
            return .refuse(
                "\(list(clashes[0].hosts)) \(clashes[0].hosts.count == 1 ? "is" : "are") already served by \(sibling), "
                    + "and \(new.folder) has no branch name to prefix its hosts with")
        }
        let prefixed = new.hosts.map { "\(label).\($0)" }
        if let tooLong = prefixed.first(where: { $0.utf8.count > 253 }) {
            return .refuse("\(tooLong) (\(new.folder)'s host with its branch prefix) is longer than a DNS name may be (253)")
        }
        let again = clashing(prefixed, others)
        if let first = again.first {
            return .refuse(
                "\(list(clashes[0].hosts)) \(clashes[0].hosts.count == 1 ? "is" : "are") served by \(sibling), a checkout of the same repository, "
                    + "and with the branch prefix \(list(first.hosts)) \(first.hosts.count == 1 ? "is" : "are") already served by \(first.running.folder) "
                    + "(two worktrees on the same branch or commit?); \(new.folder) was not started")
        }
        return .prefix(
            label,
            rule: "\(new.folder) is a git worktree of the same repository as \(sibling), which already serves \(list(clashes[0].hosts)): "
                + "its hosts carry the branch prefix \(label) (\(prefixed[0]))")
    }

    private static func clashing(_ hosts: [String], _ others: [Running]) -> [(running: Running, hosts: [String])] {
        let wanted = Set(hosts.map { $0.lowercased() })
        return others.compactMap { running in
            let shared = running.hosts.filter { wanted.contains($0.lowercased()) }
            return shared.isEmpty ? nil : (running, shared.sorted())
        }
    }

    private static func list(_ hosts: [String]) -> String {
        hosts.count <= 3 ? hosts.joined(separator: ", ") : hosts.prefix(3).joined(separator: ", ") + " and \(hosts.count - 3) more"
    }
}
