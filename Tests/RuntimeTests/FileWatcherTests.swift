import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

@Suite struct FileWatcherTests {
    final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var paths: Set<String> = []
        func add(_ batch: [String]) { lock.withLock { paths.formUnion(batch) } }
        func contains(_ path: String) -> Bool { lock.withLock { paths.contains(path) } }
        var all: Set<String> { lock.withLock { paths } }
    }

    /// fullstack's backend touches its SQLite file on every request: with the app under steady
    /// traffic the folder is never quiet for 150 ms, and a saved .py must still reach a batch.
    @Test func aFileWrittenWithoutPauseDoesNotHoldBackASavedFile() async throws {
        let project = try TempProject(["app/main.py": "one\n", "data/app.sqlite3": ""])
        let seen = Seen()
        let watcher = try FileWatcher(root: project.path) { seen.add($0) }
        defer { watcher.stop() }
        let writer = Task.detached {
            var count = 0
            while !Task.isCancelled {
                count += 1
                try? project.write("data/app.sqlite3", "\(count)")
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { writer.cancel() }
        try project.write("app/main.py", "two\n")
        #expect(await eventually(timeout: .seconds(30)) { seen.contains("app/main.py") }, "only \(seen.all)")
    }
}
