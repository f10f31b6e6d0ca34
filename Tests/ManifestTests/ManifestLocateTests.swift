import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

/// `ManifestLoader.locate` walks a standard absolute path as a string (TopCommand's memory, see
/// docs/top.md) and everything else through URL; both must find what the URL walk alone found.
@Suite struct ManifestLocateTests {
    /// The walk as it was before the string path: URL standardization and FileManager throughout.
    static func urlWalk(_ start: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: start, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue { return URL(fileURLWithPath: start).standardizedFileURL.path }
        var folder = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            for name in ManifestLoader.fileNames {
                let candidate = folder.appendingPathComponent(name).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        let procfile = URL(fileURLWithPath: start).standardizedFileURL.appendingPathComponent("Procfile").path
        return FileManager.default.fileExists(atPath: procfile) ? procfile : nil
    }

    @Test func theStringWalkFindsWhatTheURLWalkFinds() throws {
        let project = try TempProject([
            "devhost.yml": "services: { a: { command: x } }\n", "src/deep/file.txt": "", "odd name %20;x/keep": "",
            "procs/Procfile": "web: x\n", "procs/inner/keep": "",
        ])
        let root = project.path
        let starts = [
            root, root + "/", root + "/src/deep", root + "/src/deep/", root + "/src/./deep", root + "/src/deep/..",
            root + "/src//deep", root + "/src/deep/file.txt", root + "/devhost.yml", root + "/odd name %20;x", root + "/procs",
            root + "/procs/inner", "/",
        ]
        for start in starts {
            let found = try? ManifestLoader(environment: [:]).locate(from: start)
            #expect(found == Self.urlWalk(start), "\(start)")
        }
        for path in ["/", "/a/b", "/a/...", "/a/.b", "/..a/b."] {
            #expect(ManifestLoader.isStandardAbsolute(path), "\(path)")
        }
        for path in ["", "a/b", "/a/", "/a//b", "/a/./b", "/a/../b", "./a", "/.", "/..", "//"] {
            #expect(!ManifestLoader.isStandardAbsolute(path), "\(path)")
        }
    }
}
