import CLibGit2
import Foundation

extension Git {
    /// The files of the newest commit that changed `path` (the last time devhost generated or
    /// updated the project): what the template produced, before the user's edits.
    public static func filesOfLastCommitTouching(_ path: String, in directory: String) throws(Failure) -> (
        commit: String, files: [String: [UInt8]]
    ) {
        try ready()
        var repository: OpaquePointer?
        try check(git_repository_open(&repository, directory), "open \(directory)")
        defer { git_repository_free(repository) }
        var walk: OpaquePointer?
        try check(git_revwalk_new(&walk, repository), "walk history")
        defer { git_revwalk_free(walk) }
        try check(git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue), "walk history")
        try check(git_revwalk_push_head(walk), "walk history from HEAD")
        var oid = git_oid()
        while git_revwalk_next(&oid, walk) == 0 {
            var commit: OpaquePointer?
            try check(git_commit_lookup(&commit, repository, &oid), "read commit")
            defer { git_commit_free(commit) }
            let own = try blobID(of: path, in: commit)
            guard let own else { continue }
            var changed = git_commit_parentcount(commit) == 0
            if !changed {
                var parent: OpaquePointer?
                try check(git_commit_parent(&parent, commit, 0), "read parent")
                defer { git_commit_free(parent) }
                let before = try blobID(of: path, in: parent)
                changed = before != own
            }
            guard changed else { continue }
            var tree: OpaquePointer?
            try check(git_commit_tree(&tree, commit), "read tree")
            defer { git_tree_free(tree) }
            return (oidString(oid), try files(of: tree, repository: repository))
        }
        git_error_clear()
        throw Failure(
            operation: "find the generated version",
            message: "no commit in \(directory) contains \(path); was the project made with `devhost init`?")
    }

    private static func blobID(of path: String, in commit: OpaquePointer?) throws(Failure) -> String? {
        var tree: OpaquePointer?
        try check(git_commit_tree(&tree, commit), "read tree")
        defer { git_tree_free(tree) }
        var entry: OpaquePointer?
        guard git_tree_entry_bypath(&entry, tree, path) == 0 else {
            git_error_clear()
            return nil
        }
        defer { git_tree_entry_free(entry) }
        return oidString(git_tree_entry_id(entry).pointee)
    }

    /// The files of the commit `reference` points at, or nil when the reference does not exist.
    public static func files(atReference reference: String, in directory: String) throws(Failure) -> (
        commit: String, files: [String: [UInt8]]
    )? {
        try ready()
        var repository: OpaquePointer?
        try check(git_repository_open(&repository, directory), "open \(directory)")
        defer { git_repository_free(repository) }
        var oid = git_oid()
        guard git_reference_name_to_id(&oid, repository, reference) == 0 else {
            git_error_clear()
            return nil
        }
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, repository, &oid), "read \(reference)")
        defer { git_commit_free(commit) }
        var tree: OpaquePointer?
        try check(git_commit_tree(&tree, commit), "read tree")
        defer { git_tree_free(tree) }
        return (oidString(oid), try files(of: tree, repository: repository))
    }

    /// Commits `files` (the template's fresh output) on `templateReference`, after the previous one.
    public static func recordTemplateOutput(_ files: [String: [UInt8]], in directory: String, message: String) throws(Failure) {
        try ready()
        var repository: OpaquePointer?
        try check(git_repository_open(&repository, directory), "open \(directory)")
        defer { git_repository_free(repository) }
        var index: OpaquePointer?
        try check(git_index_new(&index), "build tree")
        defer { git_index_free(index) }
        // An in-memory index is not tied to the repository: blobs are written first, then added by id.
        for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
            var blob = git_oid()
            try check(bytes.withUnsafeBytes { git_blob_create_from_buffer(&blob, repository, $0.baseAddress, $0.count) }, "store \(path)")
            var entry = git_index_entry()
            entry.mode = 0o100644
            entry.id = blob
            entry.file_size = UInt32(truncatingIfNeeded: bytes.count)
            try check(
                path.withCString { pathPointer in
                    entry.path = pathPointer
                    return git_index_add(index, &entry)
                }, "add \(path)")
        }
        var treeID = git_oid()
        try check(git_index_write_tree_to(&treeID, index, repository), "write tree")
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, repository, &treeID), "look up tree")
        defer { git_tree_free(tree) }
        var signature: UnsafeMutablePointer<git_signature>?
        if git_signature_default(&signature, repository) != 0 {
            git_error_clear()
            try check(git_signature_now(&signature, fallbackIdentity.name, fallbackIdentity.email), "make signature")
        }
        defer { git_signature_free(signature) }
        var parentID = git_oid()
        var parent: OpaquePointer?
        if git_reference_name_to_id(&parentID, repository, templateReference) == 0 {
            try check(git_commit_lookup(&parent, repository, &parentID), "read \(templateReference)")
        } else {
            git_error_clear()
        }
        defer { git_commit_free(parent) }
        var commitID = git_oid()
        var parents: [OpaquePointer?] = parent.map { [$0] } ?? []
        try check(
            git_commit_create(
                &commitID, repository, templateReference, signature, signature, "UTF-8", message, tree, parents.count, &parents),
            "record template output")
    }

    private final class Collected {
        var paths: [(String, git_oid)] = []
    }

    private static func files(of tree: OpaquePointer?, repository: OpaquePointer?) throws(Failure) -> [String: [UInt8]] {
        let collected = Collected()
        let payload = Unmanaged.passUnretained(collected).toOpaque()
        let code = git_tree_walk(
            tree, GIT_TREEWALK_PRE,
            { root, entry, payload in
                guard let entry, let payload, git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return 0 }
                let box = Unmanaged<Collected>.fromOpaque(payload).takeUnretainedValue()
                let name = String(cString: git_tree_entry_name(entry))
                box.paths.append(((root.map { String(cString: $0) } ?? "") + name, git_tree_entry_id(entry).pointee))
                return 0
            }, payload)
        try check(code, "read files")
        var result: [String: [UInt8]] = [:]
        for (path, id) in collected.paths {
            var blob: OpaquePointer?
            var oid = id
            try check(git_blob_lookup(&blob, repository, &oid), "read \(path)")
            defer { git_blob_free(blob) }
            let size = Int(git_blob_rawsize(blob))
            let pointer = git_blob_rawcontent(blob)
            result[path] = size == 0 || pointer == nil ? [] : Array(UnsafeRawBufferPointer(start: pointer, count: size))
        }
        return result
    }
}
