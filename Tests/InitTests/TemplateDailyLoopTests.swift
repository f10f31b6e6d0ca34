import DevhostInit
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

/// What a new user of a generated project needs in the first hour: a save shows without a manual
/// restart, and the README teaches the daily commands.
@Suite struct TemplateDailyLoopTests {
    /// Every file below `root`, relative to it.
    static func files(under root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }

    @Test(arguments: BuiltInTemplateTests.templates)
    func everyServiceReloadsOnSave(_ template: String) throws {
        let (parent, result) = try generate(template, git: false)
        defer { withExtendedLifetime(parent) {} }
        let manifest = try ManifestLoader(environment: [:]).load(result.directory + "/devhost.yml")
        for service in manifest.services where service.restart != .no {
            // The static site's server reads each file on each request: a save shows as it is.
            if template == "static" { continue }
            #expect(!service.watch.isEmpty, "\(template)/\(service.name) has no watch: a saved file changes nothing")
            let files = Self.files(under: service.cwd)
            for glob in service.watch {
                #expect(files.contains { Glob.matches(glob, $0) }, "\(template)/\(service.name): watch \(glob) matches no file")
            }
        }
    }

    @Test func theStaticSitesHealthProbeIsNotInItsLog() throws {
        let (parent, result) = try generate("static", git: false)
        defer { withExtendedLifetime(parent) {} }
        let manifest = try ManifestLoader(environment: [:]).load(result.directory + "/devhost.yml")
        // http.server logs every request it answers; a TCP connect without a request it does not.
        #expect(
            manifest.services.allSatisfy { $0.health?.probe == .tcp }, "\(manifest.services.map { String(describing: $0.health?.probe) })")
    }

    @Test(arguments: BuiltInTemplateTests.templates)
    func theReadmeTeachesTheDailyLoop(_ template: String) throws {
        let (parent, result) = try generate(template, git: false)
        defer { withExtendedLifetime(parent) {} }
        let readme = try String(contentsOfFile: result.directory + "/README.md", encoding: .utf8)
        for needed in [
            "devhost up -d", "devhost status", "devhost logs -f", "devhost restart", "devhost down", "http://devhost.localhost:7777/",
            "devhost.yml", "Add a service", "save", "localhost:80",
        ] {
            #expect(readme.contains(needed), "\(template)'s README does not mention \(needed)")
        }
        // The measured save-to-new-answer figure, not a promise.
        #expect(
            readme.range(of: #"[0-9.]+ ?(ms|s)\b"#, options: .regularExpression) != nil,
            "\(template)'s README gives no measured reload time")
    }
}
