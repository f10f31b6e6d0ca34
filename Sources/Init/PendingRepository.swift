import CGitSupport
import CLibGit2
import Foundation

extension Git {
    /// A repository created on a background thread while the project renders into the same folder:
    /// loading libgit2 and `git init` take about as long as rendering, so they happen at once.
    /// `commit` waits for it; `finish` waits too, so nothing writes into the folder afterwards.
    public final class PendingRepository: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<OpaquePointer, Failure>?
        private var finished = false
        private let directory: String

        public init(at directory: String) {
            self.directory = directory
            Background.shared.run { [self] in
                do throws(Failure) {
                    result = .success(try Git.createRepository(at: directory))
                } catch {
                    result = .failure(error)
                }
                done.signal()
            }
        }

        /// Waits for the background work (once).
        public func finish() {
            if !finished {
                done.wait()
                finished = true
            }
        }

        /// Adds `files` and makes the first commit; see `Git.commit`.
        public func commit(files: [String], message: String) throws(Failure) -> (identity: Identity, commit: String) {
            finish()
            switch result {
            case .success(let repository)?: return try Git.commit(repository, in: directory, files: files, message: message)
            case .failure(let error)?: throw error
            case nil: throw Failure(operation: "init \(directory)", message: "the repository was not created")
            }
        }

        deinit {
            finish()
            if case .success(let repository)? = result { git_repository_free(repository) }
        }
    }
}
