import Foundation

/// Which git repository a project folder belongs to, and on which branch, read from git's own files
/// (no git process, no libgit2): enough to tell a second checkout of the same repository (a linked
/// worktree) from an unrelated project claiming the same hosts (`HostClaim`).
///
/// - main checkout: `.git` is a folder; it is the common dir.
/// - linked worktree: `.git` is a file `gitdir: /repo/.git/worktrees/NAME`, and that folder's
///   `commondir` file points back to `/repo/.git` (relative to it, usually `../..`).
/// - submodule: `.git` is a file pointing at `.git/modules/NAME`, which has no `commondir`: it is its
///   own repository.
public struct ProjectIdentity: Sendable, Equatable {
    /// The project folder, canonical (links resolved).
    public var folder: String
    /// The repository's common git dir, canonical; the same for the main checkout and every worktree.
    /// Nil outside a git repository.
    public var commonDir: String?
    /// HEAD's branch (`feature/x` → `feature-x`) or, when detached, its short hash, as a DNS label.
    public var branchLabel: String?
    /// The folder holds a linked worktree rather than the main checkout.
    public var isLinkedWorktree: Bool

    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    public init(folder: String, commonDir: String?, branchLabel: String?, isLinkedWorktree: Bool = false) {
        self.folder = folder
        self.commonDir = commonDir
        self.branchLabel = branchLabel
        self.isLinkedWorktree = isLinkedWorktree
    }

    /// The identity of `folder`, found by walking up to the nearest `.git`.
    public static func of(folder: String) throws(Problem) -> ProjectIdentity {
        let canonical = try canonicalPath(folder, named: folder)
        var checkout = canonical
        while true {
            let dotGit = checkout == "/" ? "/.git" : checkout + "/.git"
            var info = stat()
            if lstat(dotGit, &info) == 0 {
                let kind = info.st_mode & S_IFMT
                if kind == S_IFDIR {
                    let gitDir = try canonicalPath(dotGit, named: dotGit)
                    return ProjectIdentity(folder: canonical, commonDir: gitDir, branchLabel: try branchLabel(gitDir: gitDir))
                }
                if kind == S_IFREG { return try linked(folder: canonical, dotGit: dotGit, checkout: checkout) }
            }
            if checkout == "/" { return ProjectIdentity(folder: canonical, commonDir: nil, branchLabel: nil) }
            checkout = (checkout as NSString).deletingLastPathComponent
        }
    }

    private static func linked(folder: String, dotGit: String, checkout: String) throws(Problem) -> ProjectIdentity {
        let text = try read(dotGit)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard line.hasPrefix("gitdir:") else {
            throw Problem(file: dotGit, message: "line 1: expected `gitdir: PATH` (a linked worktree or submodule), found \"\(line)\"")
        }
        var pointer = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
        if !pointer.hasPrefix("/") { pointer = checkout + "/" + pointer }
        let gitDir = try canonicalPath(pointer, named: dotGit + " (gitdir: \(pointer))")
        let commondirFile = gitDir + "/commondir"
        guard FileManager.default.fileExists(atPath: commondirFile) else {
            // A submodule's own repository.
            return ProjectIdentity(folder: folder, commonDir: gitDir, branchLabel: try branchLabel(gitDir: gitDir))
        }
        var common = try read(commondirFile).trimmingCharacters(in: .whitespacesAndNewlines)
        if !common.hasPrefix("/") { common = gitDir + "/" + common }
        let commonDir = try canonicalPath(common, named: commondirFile + " (\(common))")
        return ProjectIdentity(folder: folder, commonDir: commonDir, branchLabel: try branchLabel(gitDir: gitDir), isLinkedWorktree: true)
    }

    /// `ref: refs/heads/feature/x` → `feature-x`; a detached HEAD (a bare object id) → its first 7
    /// hex digits, as `git rev-parse --short` would usually print.
    static func branchLabel(gitDir: String) throws(Problem) -> String {
        let file = gitDir + "/HEAD"
        let head = try read(file).trimmingCharacters(in: .whitespacesAndNewlines)
        if head.hasPrefix("ref:") {
            var reference = head.dropFirst(4).trimmingCharacters(in: .whitespaces)
            if reference.hasPrefix("refs/heads/") { reference.removeFirst("refs/heads/".count) }
            let label = dnsLabel(reference)
            guard !label.isEmpty else {
                throw Problem(file: file, message: "the branch \"\(reference)\" has no letter or digit to name hosts by")
            }
            return label
        }
        guard head.count >= 7, head.allSatisfy(\.isHexDigit) else {
            throw Problem(file: file, message: "line 1: expected `ref: refs/heads/BRANCH` or an object id, found \"\(head)\"")
        }
        return String(head.prefix(7)).lowercased()
    }

    /// Lowercase, every run of other characters one '-', at most 63 bytes, no '-' at either end.
    public static func dnsLabel(_ text: String) -> String {
        var label = ""
        for scalar in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                label.unicodeScalars.append(scalar)
            } else if !label.isEmpty, !label.hasSuffix("-") {
                label += "-"
            }
        }
        label = String(label.prefix(63))
        while label.hasSuffix("-") { label.removeLast() }
        return label
    }

    private static func canonicalPath(_ path: String, named name: String) throws(Problem) -> String {
        guard let resolved = realpath(path, nil) else { throw Problem(file: name, message: String(cString: strerror(errno))) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func read(_ path: String) throws(Problem) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(file: path, message: "cannot be read")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
