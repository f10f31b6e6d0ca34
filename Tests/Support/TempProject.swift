import DevhostManifest
import Foundation

/// A temporary project folder, removed when the value is released.
public final class TempProject: @unchecked Sendable {
    public let path: String

    public init(_ files: [String: String] = [:]) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, content) in files { try write(name, content) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func write(_ name: String, _ content: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: false, encoding: .utf8)
    }

    public func read(_ name: String) throws -> String {
        try String(contentsOfFile: URL(fileURLWithPath: path).appendingPathComponent(name).path, encoding: .utf8)
    }

    public func file(_ name: String) -> String {
        URL(fileURLWithPath: path).appendingPathComponent(name).path
    }

    public func load(overlay: String? = nil, environment: [String: String] = [:]) throws(ManifestError) -> Manifest {
        let loader = ManifestLoader(environment: environment)
        return try loader.load(try loader.locate(from: path), overlay: overlay)
    }
}

/// Runs a program to completion, returning its exit status and combined output. A program still
/// running after `timeout` seconds is killed with its process group (status 137), so a client that
/// hangs fails its test with what it printed instead of holding the whole run.
public func run(_ argv: [String], in directory: String? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 180)
    throws -> (status: Int32, output: String)
{
    let child = try ChildProcess(argv: argv, directory: directory, environment: environment)
    let watchdog = DispatchWorkItem { kill(-child.pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let status = child.wait()
    watchdog.cancel()
    return (status, child.output)
}

/// The devhost binary built next to the tests (`swift build --build-tests` builds it too).
public var devhostBinary: String { repositoryRoot.appendingPathComponent(".build/debug/devhost").path }

/// The repository's root folder (for bundled examples and templates).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Polls `condition` every 20 ms until it holds or `timeout` passes: tests wait on conditions, never
/// on fixed sleeps.
public func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
