import CGitSupport
import CLibGit2
import Foundation

/// The few libgit2 operations devhost needs: make a repository with a first commit, clone a template
/// source at a ref, and merge three versions of a file.
public enum Git {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        /// libgit2's own message.
        public var message: String
        public var description: String { "git: \(operation) failed: \(message)" }
    }

    /// libgit2 is initialised once per process, with its CA bundle parse deferred (ca_bundle.c).
    /// `devhost init` starts this before main, on a thread of its own (start.c), so it happens
    /// while templates render; the first git call waits for it there.
    static let startFailure: String? = devhost_git_start().map { String(cString: $0) }

    /// Waits for a start of libgit2 under way since before main (start.c), so that exiting does not
    /// race it; call before the process exits.
    public static func settle() {
        devhost_git_settle()
    }

    /// Throws when libgit2 cannot start; every operation starts here.
    static func ready() throws(Failure) {
        if let startFailure { throw Failure(operation: "start libgit2", message: startFailure) }
    }

    /// Whether libgit2 started.
    public static var isAvailable: Bool { startFailure == nil }

    /// `1.9.0 (threads, https, ssh)`: what `devhost doctor` reports.
    public static var libraryDescription: String {
        if let startFailure { return "not available: \(startFailure)" }
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        git_libgit2_version(&major, &minor, &revision)
        let features = git_libgit2_features()
        var names: [String] = []
        if features & Int32(GIT_FEATURE_THREADS.rawValue) != 0 { names.append("threads") }
        if features & Int32(GIT_FEATURE_HTTPS.rawValue) != 0 { names.append("https") }
        if features & Int32(GIT_FEATURE_SSH.rawValue) != 0 { names.append("ssh") }
        return "\(major).\(minor).\(revision) (\(names.joined(separator: ", ")))"
    }

    /// Starts the background thread ahead of its first job: a new thread takes a while to start
    /// running, and `init` measured that wait on its path when the thread began with the job.
    public static func warmUp() {
        _ = Background.shared
    }

    /// The thread that creates repositories off the main thread (`PendingRepository`), one job after
    /// another. Its first job waits for libgit2's start (start.c) in `pthread_once`, a plain futex
    /// wait: waiting on a Swift `once` instead, as the first version did, spun in the kernel (its
    /// lock is a priority-inheritance futex) and took a core from the threads doing the work.
    final class Background: @unchecked Sendable {
        static let shared = Background()
        private let lock = NSLock()
        private let wake = DispatchSemaphore(value: 0)
        private var jobs: [@Sendable () -> Void] = []

        private init() {
            Thread.detachNewThread { [self] in
                while true {
                    wake.wait()
                    let job = lock.withLock { jobs.removeFirst() }
                    job()
                }
            }
        }

        func run(_ job: @escaping @Sendable () -> Void) {
            lock.withLock { jobs.append(job) }
            wake.signal()
        }
    }

    /// Checks a libgit2 return code. `git_error_last` is per thread, so it is read right here,
    /// before anything else can run on this thread.
    @discardableResult
    static func check(_ code: Int32, _ operation: String) throws(Failure) -> Int32 {
        guard code < 0 else { return code }
        let message = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(code)"
        throw Failure(operation: operation, message: message)
    }

    public struct Identity: Sendable, Equatable {
        public var name: String
        public var email: String
        /// True when git config had no user.name/user.email and devhost used its own.
        public var isFallback: Bool
    }

    /// Where devhost keeps what the template generated (not a branch: it never shows in `git branch`).
    public static let templateReference = "refs/devhost/template"

    public static let fallbackIdentity = Identity(name: "devhost", email: "devhost@localhost", isFallback: true)

    /// Writes `.git/config` with the values libgit2's init sets, before it runs. libgit2 writes the
    /// file afresh (a lock file and a rename) for each value that differs from what is there, four
    /// times on an empty file; with these it writes once, for `core.filemode`, which it decides by
    /// trying a chmod on this very file (that write also gives the file its normal mode back).
    /// Creating files is what `init` spends its time on, and on a busy disk each new one costs
    /// 0.1-0.3 ms. Best effort: without the seed libgit2 writes all four values itself.
    private static func seedConfig(in directory: String) {
        guard mkdir(directory + "/.git", 0o777) == 0 else { return }
        let path = directory + "/.git/config"
        let seed = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tlogallrefupdates = true\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { return }
        let written = seed.withCString { write(descriptor, $0, strlen($0)) }
        close(descriptor)
        if written != seed.utf8.count { unlink(path) }
    }

    /// `git init -b main` in `directory`, with objects going to an in-memory store (see `commit`).
    static func createRepository(at directory: String) throws(Failure) -> OpaquePointer {
        try ready()
        var repository: OpaquePointer?
        var options = git_repository_init_options()
        try check(git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION)), "init")
        // An empty template (git's `--template=`): no `description`, `hooks/README.sample` or
        // `info/exclude`, three files nobody reads that cost a new inode each.
        options.flags = GIT_REPOSITORY_INIT_MKPATH.rawValue | GIT_REPOSITORY_INIT_EXTERNAL_TEMPLATE.rawValue
        seedConfig(in: directory)
        // libgit2 otherwise follows init.defaultBranch, or master.
        let code = directory.withCString { path in
            "main".withCString { head in
                "".withCString { noTemplate in
                    options.initial_head = head
                    options.template_path = noTemplate
                    return git_repository_init_ext(&repository, path, &options)
                }
            }
        }
        try check(code, "init \(directory)")
        guard let repository else { throw Failure(operation: "init \(directory)", message: "no repository") }
        // Objects go to an object database that holds only an in-memory store, and land as one
        // packfile (`commit`): loose objects would cost a file and a fan-out folder each, and the
        // repository's own database checks its loose files and packs before every write (a stat,
        // a touch, a rescan of the pack folder per object) for objects that cannot be there yet.
        do throws(Failure) {
            var memory: OpaquePointer?
            try check(git_odb_new(&memory), "create in-memory object store")
            defer { git_odb_free(memory) }
            var mempack: UnsafeMutablePointer<git_odb_backend>?
            try check(git_mempack_new(&mempack), "create in-memory object store")
            let added = git_odb_add_backend(memory, mempack, 1000)
            // The database owns the store only once it has been added.
            if added < 0 { mempack?.pointee.free(mempack) }
            try check(added, "add in-memory object store")
            try check(git_repository_set_odb(repository, memory), "use in-memory object store")
        } catch {
            git_repository_free(repository)
            throw error
        }
        return repository
    }

    /// `git add` of `files` (paths relative to `directory`; those .gitignore excludes are left out,
    /// as `git add -A` would), then `git commit -m message` on main. Returns the identity used and
    /// the commit id.
    static func commit(_ repository: OpaquePointer, in directory: String, files: [String], message: String) throws(Failure) -> (
        identity: Identity, commit: String
    ) {
        var index: OpaquePointer?
        try check(git_repository_index(&index, repository), "open index")
        defer { git_index_free(index) }
        // The files are known, so they are added one by one: `git_index_add_all` walks the tree and
        // looks up attributes and filters for every file, which cost more than the rest of the commit.
        for path in files.sorted() {
            var ignored: Int32 = 0
            try check(git_ignore_path_is_ignored(&ignored, repository, path), "check \(path) against .gitignore")
            if ignored != 0 { continue }
            try add(path, in: directory, to: index, repository: repository)
        }
        try check(git_index_write(index), "write index")
        var treeID = git_oid()
        try check(git_index_write_tree(&treeID, index), "write tree")
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, repository, &treeID), "look up tree")
        defer { git_tree_free(tree) }

        var signature: UnsafeMutablePointer<git_signature>?
        var identity: Identity
        if git_signature_default(&signature, repository) == 0, let signature {
            identity = Identity(
                name: String(cString: signature.pointee.name), email: String(cString: signature.pointee.email), isFallback: false)
        } else {
            git_error_clear()
            identity = fallbackIdentity
            try check(git_signature_now(&signature, identity.name, identity.email), "make signature")
        }
        defer { git_signature_free(signature) }

        var commitID = git_oid()
        try check(git_commit_create(&commitID, repository, nil, signature, signature, "UTF-8", message, tree, 0, nil), "commit")
        // From here on the repository reads and writes its objects on disk, as any repository does
        // (the in-memory store goes with the last reference to its database). Opened here, not
        // kept from `createRepository`: that put the opening on the path `init` waits for.
        var objects = git_buf()
        defer { git_buf_dispose(&objects) }
        try check(git_repository_item_path(&objects, repository, GIT_REPOSITORY_ITEM_OBJECTS), "find the object database")
        var disk: OpaquePointer?
        try check(git_odb_open(&disk, objects.ptr), "open the object database")
        defer { git_odb_free(disk) }
        try writePack(of: &commitID, into: disk, repository: repository)
        try check(git_repository_set_odb(repository, disk), "use the object database")
        // HEAD is updated only once the objects it names are on disk.
        var reference: OpaquePointer?
        try check(git_reference_create(&reference, repository, "refs/heads/main", &commitID, 1, message), "update main")
        git_reference_free(reference)
        // The template's own output, kept apart from the user's history: the base of later updates.
        try check(git_reference_create(&reference, repository, templateReference, &commitID, 1, message), "record template output")
        git_reference_free(reference)
        return (identity, oidString(commitID))
    }

    /// Adds one file to the index with the stat data `git status` compares, so the new repository
    /// reads as clean without hashing anything again.
    private static func add(_ path: String, in directory: String, to index: OpaquePointer?, repository: OpaquePointer?) throws(Failure) {
        let full = directory + "/" + path
        var info = stat()
        guard lstat(full, &info) == 0 else { throw Failure(operation: "add \(path)", message: String(cString: strerror(errno))) }
        var blob = git_oid()
        let isLink = (info.st_mode & S_IFMT) == S_IFLNK
        let content: [UInt8]
        do {
            content = isLink ? Array(try FileReader.linkTarget(full).utf8) : try FileReader.contents(full).bytes
        } catch {
            throw Failure(operation: "add \(path)", message: "\(error)")
        }
        try check(content.withUnsafeBytes { git_blob_create_from_buffer(&blob, repository, $0.baseAddress, $0.count) }, "store \(path)")
        var entry = git_index_entry()
        entry.ctime = git_index_time(
            seconds: Int32(truncatingIfNeeded: info.st_ctim.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: info.st_ctim.tv_nsec))
        entry.mtime = git_index_time(
            seconds: Int32(truncatingIfNeeded: info.st_mtim.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: info.st_mtim.tv_nsec))
        entry.dev = UInt32(truncatingIfNeeded: info.st_dev)
        entry.ino = UInt32(truncatingIfNeeded: info.st_ino)
        entry.mode = isLink ? 0o120000 : (info.st_mode & 0o111 != 0 ? 0o100755 : 0o100644)
        entry.uid = info.st_uid
        entry.gid = info.st_gid
        entry.file_size = UInt32(truncatingIfNeeded: info.st_size)
        entry.id = blob
        try check(
            path.withCString { pointer in
                entry.path = pointer
                return git_index_add(index, &entry)
            }, "add \(path)")
    }

    /// Packs the commit and everything it reaches into `odb` (what `git_mempack_dump` does, but on
    /// this thread: it asks for a delta-search thread per core, and starting and joining them cost
    /// more than searching a first commit's few objects).
    private static func writePack(of commit: inout git_oid, into odb: OpaquePointer?, repository: OpaquePointer?) throws(Failure) {
        var builder: OpaquePointer?
        try check(git_packbuilder_new(&builder, repository), "pack objects")
        defer { git_packbuilder_free(builder) }
        git_packbuilder_set_threads(builder, 1)
        try check(git_packbuilder_insert_commit(builder, &commit), "pack objects")
        var pack = git_buf()
        defer { git_buf_dispose(&pack) }
        try check(git_packbuilder_write_buf(&pack, builder), "pack objects")
        var writer: UnsafeMutablePointer<git_odb_writepack>?
        try check(git_odb_write_pack(&writer, odb, nil, nil), "write pack")
        guard let writer else { throw Failure(operation: "write pack", message: "no pack writer") }
        defer { writer.pointee.free(writer) }
        var progress = git_indexer_progress()
        try check(writer.pointee.append(writer, pack.ptr, pack.size, &progress), "write pack")
        try check(writer.pointee.commit(writer, &progress), "write pack")
    }

    /// Clones `url` (a URL or a local repository path) into `directory` and checks out `ref`
    /// (a branch, tag or commit) when given. Returns the commit checked out.
    public static func clone(_ url: String, into directory: String, ref: String?) throws(Failure) -> String {
        try ready()
        // The CA bundle libgit2's start-up skipped (ca_bundle.c) is needed for https.
        if url.lowercased().hasPrefix("https://"), devhost_git_load_ca_bundle() != 0 {
            throw Failure(operation: "clone \(url)", message: "cannot load the system's CA certificates")
        }
        var repository: OpaquePointer?
        var options = git_clone_options()
        try check(git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION)), "clone")
        try check(git_clone(&repository, url, directory, &options), "clone \(url)")
        defer { git_repository_free(repository) }
        if let ref {
            var object: OpaquePointer?
            var found = false
            for candidate in [ref, "origin/\(ref)", "refs/tags/\(ref)"] {
                if git_revparse_single(&object, repository, candidate) == 0 {
                    found = true
                    break
                }
            }
            guard found else {
                git_error_clear()
                throw Failure(operation: "checkout", message: "\(url) has no branch, tag or commit named \"\(ref)\"")
            }
            defer { git_object_free(object) }
            var commit: OpaquePointer?
            try check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "resolve \(ref)")
            defer { git_object_free(commit) }
            var checkout = git_checkout_options()
            try check(git_checkout_options_init(&checkout, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "checkout")
            checkout.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue
            try check(git_checkout_tree(repository, commit, &checkout), "checkout \(ref)")
            try check(git_repository_set_head_detached(repository, git_object_id(commit)), "checkout \(ref)")
        }
        var head = git_oid()
        try check(git_reference_name_to_id(&head, repository, "HEAD"), "read HEAD")
        return oidString(head)
    }

    public struct MergeResult: Sendable, Equatable {
        public var text: String
        public var hasConflicts: Bool

        public init(text: String, hasConflicts: Bool) {
            self.text = text
            self.hasConflicts = hasConflicts
        }
    }

    /// A 3-way merge of one file's text (`git merge-file`), with conflict markers where both sides changed.
    public static func mergeFile(base: String, ours: String, theirs: String, path: String) throws(Failure) -> MergeResult {
        try ready()
        var result = git_merge_file_result()
        let code: Int32 = base.withCString { basePointer in
            ours.withCString { oursPointer in
                theirs.withCString { theirsPointer in
                    path.withCString { pathPointer in
                        var ancestor = git_merge_file_input()
                        var mine = git_merge_file_input()
                        var template = git_merge_file_input()
                        git_merge_file_input_init(&ancestor, UInt32(GIT_MERGE_FILE_INPUT_VERSION))
                        git_merge_file_input_init(&mine, UInt32(GIT_MERGE_FILE_INPUT_VERSION))
                        git_merge_file_input_init(&template, UInt32(GIT_MERGE_FILE_INPUT_VERSION))
                        ancestor.ptr = basePointer
                        ancestor.size = base.utf8.count
                        ancestor.path = pathPointer
                        mine.ptr = oursPointer
                        mine.size = ours.utf8.count
                        mine.path = pathPointer
                        template.ptr = theirsPointer
                        template.size = theirs.utf8.count
                        template.path = pathPointer
                        var options = git_merge_file_options()
                        git_merge_file_options_init(&options, UInt32(GIT_MERGE_FILE_OPTIONS_VERSION))
                        options.our_label = Self.cString("yours")
                        options.their_label = Self.cString("template")
                        options.ancestor_label = Self.cString("before")
                        return git_merge_file(&result, &ancestor, &mine, &template, &options)
                    }
                }
            }
        }
        try check(code, "merge \(path)")
        defer { git_merge_file_result_free(&result) }
        let text = result.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: result.len), as: UTF8.self) } ?? ""
        return MergeResult(text: text, hasConflicts: result.automergeable == 0)
    }

    /// Static strings live for the whole process, so their bytes can be handed to C as labels.
    private static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    static func oidString(_ oid: git_oid) -> String {
        var copy = oid
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &copy)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
