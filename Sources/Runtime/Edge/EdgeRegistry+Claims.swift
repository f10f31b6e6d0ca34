import Foundation

/// The name-clash rules (HostClaim) applied to the registered projects.
extension EdgeRegistry {
    enum Decision: Equatable {
        /// Serve the project's hosts, with `prefix.` in front when set; `rule` says which rule applied, for `up` to print.
        case accept(prefix: String?, rule: String)
        case refuse(String)
    }

    /// HostClaim's rules, plus one for an edge that restarted: a project keeps the prefix it had
    /// while those hosts are still free, so its URLs do not move.
    static func claim(_ project: EdgeProject, among others: [Entry]) -> Decision {
        let running = others.map { HostClaim.Running(folder: $0.project.folder, commonDir: $0.project.repository, hosts: $0.hosts) }
        // A host with several paths is claimed once.
        let wanted = project.routes.map { $0.host.lowercased() }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if let kept = project.prefix {
            let again = HostClaim.Claim(folder: project.folder, commonDir: nil, branch: nil, hosts: wanted.map { prefixed($0, kept) })
            if HostClaim.decide(existing: running, new: again) == .accept {
                return .accept(prefix: kept, rule: "kept the branch prefix \(kept) it had before the edge proxy restarted")
            }
        }
        let claim = HostClaim.Claim(folder: project.folder, commonDir: project.repository, branch: project.branch, hosts: wanted)
        switch HostClaim.decide(existing: running, new: claim) {
        case .accept: return .accept(prefix: nil, rule: "its own (no other running project serves them)")
        case .prefix(let label, let rule): return .accept(prefix: label, rule: rule)
        case .refuse(let text): return .refuse(text)
        }
    }
}
