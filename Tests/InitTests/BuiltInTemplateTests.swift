import DevhostCompose
import DevhostInit
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@Suite struct BuiltInTemplateTests {
    static let templates = ["django", "fastapi", "flask", "fullstack", "microservices", "node", "static"]

    @Test func catalogListsEveryBuiltInTemplate() throws {
        #expect(builtInCatalog.names == Self.templates)
        for definition in try builtInCatalog.definitions() {
            #expect(!definition.description.isEmpty, "\(definition.name) has no description")
        }
    }

    @Test(arguments: templates)
    func generatedProjectIsValidAndCommitted(_ template: String) throws {
        let (parent, result) = try generate(template)
        defer { withExtendedLifetime(parent) {} }
        let directory = result.directory
        let files = listFiles(directory)
        for required in ["devhost.yml", "docker-compose.yml", "README.md", ".gitignore", ".env.example", ".devhost/template.yml"] {
            #expect(files.contains(required), "\(template) lacks \(required)")
        }

        // The manifest validates and its compose file is the one the Compose module makes.
        let manifest = try ManifestLoader(environment: [:]).load(directory + "/devhost.yml")
        #expect(manifest.name == "demo-app")
        for service in manifest.services {
            if service.hasPort { #expect(service.health != nil, "\(template)/\(service.name) has no health check") }
            #expect(
                FileManager.default.fileExists(atPath: service.cwd + "/Dockerfile") || service.image != nil,
                "\(template)/\(service.name) has no Dockerfile")
        }
        #expect(manifest.services.contains { !$0.routes.isEmpty }, "\(template) has no route")
        try ComposeFile(manifest: manifest).check(path: directory + "/docker-compose.yml")
        let compose = try run(["docker-compose", "-f", "docker-compose.yml", "config", "-q"], in: directory)
        #expect(compose.status == 0, "\(template): docker-compose config: \(compose.output)")
        let schema = try run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"], in: directory)
        #expect(schema.status == 0, "\(template): \(schema.output)")

        // Code compiles.
        let python = files.filter { $0.hasSuffix(".py") }
        if !python.isEmpty {
            let compiled = try run(["python3", "-m", "py_compile"] + python, in: directory)
            #expect(compiled.status == 0, "\(template): \(compiled.output)")
            try? FileManager.default.removeItem(atPath: directory + "/__pycache__")
        }
        for script in files where script.hasSuffix(".js") || script.hasSuffix(".mjs") {
            let checked = try run(["node", "--check", script], in: directory)
            #expect(checked.status == 0, "\(template)/\(script): \(checked.output)")
        }

        // One commit on main, nothing left uncommitted, the template record included.
        let log = try run(["git", "log", "--format=%s"], in: directory)
        #expect(log.output == "Initial commit from devhost template \(template)\n")
        let branch = try run(["git", "rev-parse", "--abbrev-ref", "HEAD"], in: directory)
        #expect(branch.output == "main\n")
        // The seeded config (GitRepository.seedConfig) ends as libgit2 would have written it.
        let config = try run(["git", "config", "--local", "--list"], in: directory)
        #expect(
            Set(config.output.split(separator: "\n")) == [
                "core.repositoryformatversion=0", "core.bare=false", "core.logallrefupdates=true", "core.filemode=true",
            ], "\(config.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/.git/config")[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o111 } == 0, "the config file must not stay executable after libgit2's chmod probe")
        let status = try run(["git", "status", "--porcelain", "--untracked-files=all"], in: directory)
        #expect(status.output.split(separator: "\n").allSatisfy { $0.contains("__pycache__") }, "\(template): \(status.output)")
        let tracked = try run(["git", "ls-files"], in: directory)
        #expect(tracked.output.contains(".devhost/template.yml"), "the template record must be committed")
        #expect(!tracked.output.contains(".venv"))
    }

    @Test func projectNameFlowsIntoContentsAndFileNames() throws {
        let (parent, result) = try generate("django", name: "blue-shop")
        defer { withExtendedLifetime(parent) {} }
        let files = listFiles(result.directory)
        #expect(files.contains("blue_shop/settings.py"), "\(files)")
        let manifest = try String(contentsOfFile: result.directory + "/devhost.yml", encoding: .utf8)
        #expect(manifest.contains("name: blue-shop"))
        // HTML templates of the frameworks are verbatim: their `{{ }}` is Django's, not ours.
        for file in files where !file.hasPrefix(".git") && !file.hasSuffix(".html") {
            let text = (try? String(contentsOfFile: result.directory + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains("{{"), "\(file) has an unrendered tag")
        }
    }

    @Test func setValuesReachTheFiles() throws {
        let (parent, result) = try generate("fastapi", sets: ["python_version": "3.11"])
        defer { withExtendedLifetime(parent) {} }
        let dockerfile = try String(contentsOfFile: result.directory + "/Dockerfile", encoding: .utf8)
        #expect(dockerfile.contains("python:3.11"))
        let record = try String(contentsOfFile: result.directory + "/.devhost/template.yml", encoding: .utf8)
        #expect(record.contains("python_version: \"3.11\""))
    }
}
