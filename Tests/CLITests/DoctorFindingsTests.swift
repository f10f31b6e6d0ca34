import DevhostManifest
import Foundation
import Testing

@testable import devhost

/// `devhost doctor`'s findings on a project folder made for each test.
@Suite struct DoctorFindingsTests {
    /// A project folder with `files`, loaded as devhost would; removed when `body` returns.
    static func withProject<T>(_ files: [String: String], _ body: (Manifest) throws -> T) throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-doctor-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, text) in files { try text.write(toFile: folder + "/" + name, atomically: false, encoding: .utf8) }
        let loader = ManifestLoader(environment: [:])
        return try body(try loader.load(folder + "/devhost.yml"))
    }

    static let manifest = """
        name: shop
        proxy: { port: 7788 }
        env_file: .env
        services:
          api: { command: "python3 -m http.server $PORT", route: api }
        """

    @Test func anAbsentOptionalEnvFileWhoseExampleIsOnlyCommentsIsNoWarning() throws {
        let findings = try Self.withProject(["devhost.yml": Self.manifest, ".env.example": "# Copy to .env\n# LOG_LEVEL=debug\n\n"]) {
            DoctorCommand.envFiles($0)
        }
        #expect(findings.allSatisfy { $0.level == .ok }, "\(findings.map(\.text))")
    }

    @Test func anAbsentEnvFileWhoseExampleSetsVariablesIsAWarningWithTheCopyFix() throws {
        let findings = try Self.withProject(["devhost.yml": Self.manifest, ".env.example": "# the key\nAPI_KEY=change-me\n"]) {
            DoctorCommand.envFiles($0)
        }
        #expect(findings.count == 1 && findings[0].level == .warning, "\(findings.map(\.text))")
        #expect(
            findings.first?.text.contains("1 variable") == true && findings.first?.fix == "cp .env.example .env, then fill in your values")
    }

    @Test func theResolverHintNamesTheProjectsRealHostAndPort() throws {
        let url = try Self.withProject(["devhost.yml": Self.manifest]) { try DoctorCommand.parse([]).exampleURL($0) }
        #expect(url == "http://api.shop.localhost:7788")
        let finding = DoctorCommand.localhostResolution(domain: "invalid-devhost-test", example: url)
        #expect(!finding.text.contains("NAME") && !finding.text.contains("PORT"), "\(finding.text)")
    }

    static let pythonSetup = """
        services:
          api:
            command: .venv/bin/uvicorn app.main:app --port $PORT
            setup: if command -v uv >/dev/null 2>&1; then uv venv -q .venv; else python3 -m venv .venv; fi
        """

    @Test func aSetupThatPicksUvOrPipAtRunTimeIsNotAMissingProgram() throws {
        let findings = try Self.withProject(["devhost.yml": Self.pythonSetup]) { DoctorCommand.programs($0) }
        #expect(findings.allSatisfy { $0.level == .ok }, "\(findings.map(\.text))")
    }

    @Test func withoutUvOnPathDoctorSuggestsInstallingIt() throws {
        let findings = try Self.withProject(["devhost.yml": Self.pythonSetup]) { DoctorCommand.uv($0, path: "/nonexistent") }
        #expect(findings.count == 1 && findings.first?.fix == "python3 -m pip install uv", "\(findings.map(\.text))")
    }
}
