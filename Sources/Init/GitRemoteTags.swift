import CGitSupport
import CLibGit2

extension Git {
    /// The tag names a repository (a URL or a local path) advertises, without cloning it
    /// (`git ls-remote --tags`).
    public static func remoteTags(_ url: String) throws(Failure) -> [String] {
        try ready()
        if url.lowercased().hasPrefix("https://"), devhost_git_load_ca_bundle() != 0 {
            throw Failure(operation: "list tags of \(url)", message: "cannot load the system's CA certificates")
        }
        var remote: OpaquePointer?
        try check(git_remote_create_detached(&remote, url), "list tags of \(url)")
        defer { git_remote_free(remote) }
        try check(git_remote_connect(remote, GIT_DIRECTION_FETCH, nil, nil, nil), "connect to \(url)")
        defer { git_remote_disconnect(remote) }
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try check(git_remote_ls(&heads, &count, remote), "list tags of \(url)")
        var tags: [String] = []
        for index in 0..<count {
            guard let head = heads?[index], let name = head.pointee.name.map({ String(cString: $0) }) else { continue }
            // Annotated tags are listed twice, the second time peeled (`v1^{}`).
            guard name.hasPrefix("refs/tags/"), !name.hasSuffix("^{}") else { continue }
            tags.append(String(name.dropFirst("refs/tags/".count)))
        }
        return tags
    }
}
