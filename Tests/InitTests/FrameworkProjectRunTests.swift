import DevhostInit
import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// Generated projects really run under `devhost up`'s supervisor: each service's own `setup`
/// installs from PyPI, its `command` serves the health endpoint, and the first test passes.
/// Serialized: pip and the apps share two cores.
@Suite(.serialized) struct FrameworkProjectRunTests {
    @Test(arguments: ["fastapi", "flask", "django", "microservices", "fullstack"])
    func projectComesUpUnderDevhostAndPassesItsOwnTest(_ template: String) async throws {
        let (parent, result) = try generate(template)
        defer { withExtendedLifetime(parent) {} }
        let manifest = try ManifestLoader(environment: [:]).load(result.directory + "/devhost.yml")
        var environment = ProcessInfo.processInfo.environment
        environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        let log = LogOutput(
            options: .init(directory: result.directory + "/.devhost/logs", descriptor: open("/dev/null", O_WRONLY | O_CLOEXEC)))
        let supervisor = Supervisor(manifest: manifest, options: .init(log: log, environment: environment))
        let events = await supervisor.events()
        try await supervisor.start()
        let outcome = try await withTimeout(.seconds(240)) {
            for await event in events {
                if event.kind == .ready { return "ready" }
                if case .state(.failed(let reason)) = event.kind { return "\(event.label) failed: \(reason)" }
            }
            return "stopped"
        }
        #expect(outcome == "ready", "\(template): \(outcome)\n\(Self.logs(result.directory))")
        // Every routed service answers its health path through its stable address.
        let ports = await supervisor.stablePorts
        for service in manifest.services where !service.routes.isEmpty {
            guard case .http(let path)? = service.health?.probe, let port = ports[service.name] else { continue }
            let status = try run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1:\(port)\(path)",
            ]).output
            #expect(status == "200", "\(template)/\(service.name) \(path): \(status)")
        }
        await supervisor.stop()

        for service in manifest.services where FileManager.default.fileExists(atPath: service.cwd + "/.venv/bin/python") {
            let hasTests =
                FileManager.default.fileExists(atPath: service.cwd + "/tests")
                || FileManager.default.fileExists(atPath: service.cwd + "/manage.py")
            guard hasTests else { continue }
            let env = try ServiceEnvironment(inherited: environment).environment(
                for: service, in: manifest, instance: .init(index: 1, port: nil))
            let isDjango = FileManager.default.fileExists(atPath: service.cwd + "/manage.py")
            if !isDjango, !FileManager.default.fileExists(atPath: service.cwd + "/.venv/bin/pytest") {
                let installed = try run([".venv/bin/pip", "install", "-q", "pytest", "httpx"], in: service.cwd, environment: env)
                #expect(installed.status == 0, "\(installed.output)")
            }
            let test =
                isDjango
                ? try run([".venv/bin/python", "manage.py", "test"], in: service.cwd, environment: env)
                : try run([".venv/bin/python", "-m", "pytest", "-q"], in: service.cwd, environment: env)
            #expect(test.status == 0, "\(template)/\(service.name) own test: \(test.output)")
        }
    }

    static func logs(_ directory: String) -> String {
        let folder = directory + "/.devhost/logs"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return files.map { name in
            let text = (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
            return "--- \(name)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
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
