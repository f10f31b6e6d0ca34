import DevhostInit
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

/// The Python templates really run: their own `setup` installs from PyPI, their `command` serves the
/// health endpoint, and their first test passes. Serialized: pip and the apps share two cores.
@Suite(.serialized) struct FrameworkProjectRunTests {
    @Test(arguments: ["fastapi", "flask", "django"])
    func projectInstallsServesAndPassesItsOwnTest(_ template: String) throws {
        let (parent, result) = try generate(template)
        defer { withExtendedLifetime(parent) {} }
        let manifest = try ManifestLoader(environment: [:]).load(result.directory + "/devhost.yml")
        let service = try #require(manifest.services.first { !$0.routes.isEmpty })
        var inherited = ProcessInfo.processInfo.environment
        inherited["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

        let setup = try #require(service.setup)
        let installed = try run(setup.argv, in: service.cwd, environment: inherited)
        #expect(installed.status == 0, "\(template) setup: \(installed.output)")

        let port = try freePort()
        let env = try ServiceEnvironment(inherited: inherited).environment(for: service, in: manifest, instance: .init(index: 1, port: port))
        let server = try ChildProcess(argv: service.command.argv, directory: service.cwd, environment: env)
        defer { server.stop() }
        guard case .http(let path)? = service.health?.probe else {
            Issue.record("\(template) has no http health check")
            return
        }
        let status = try waitForHTTP("http://127.0.0.1:\(port)\(path)", timeout: 60, while: { server.isRunning })
        #expect(status == 200, "\(template) health: \(status), output:\n\(server.output)")

        let test = template == "django"
            ? try run([".venv/bin/python", "manage.py", "test"], in: service.cwd, environment: env)
            : try run([".venv/bin/python", "-m", "pytest", "-q"], in: service.cwd, environment: env)
        #expect(test.status == 0, "\(template) own test: \(test.output)")
    }

    @Test(arguments: ["node", "microservices", "fullstack"])
    func nodeServicesPassTheirOwnTests(_ template: String) throws {
        let (parent, result) = try generate(template)
        defer { withExtendedLifetime(parent) {} }
        let manifest = try ManifestLoader(environment: [:]).load(result.directory + "/devhost.yml")
        let nodeServices = manifest.services.filter { FileManager.default.fileExists(atPath: $0.cwd + "/package.json") }
        #expect(!nodeServices.isEmpty)
        for service in nodeServices {
            let test = try run(["node", "--test"], in: service.cwd)
            #expect(test.status == 0, "\(template)/\(service.name): \(test.output)")
        }
    }
}
