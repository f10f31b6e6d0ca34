import DevhostManifest
import Foundation
import Testing

@Suite struct ManifestParsingTests {
    @Test func fullExampleResolvesEveryKey() throws {
        let manifest = try load(
            """
            name: shop
            proxy: { port: 8088, bind: 127.0.0.1, domain: test }
            env_file: .env
            env: { LOG_LEVEL: debug, WORKERS: 4 }
            services:
              api:
                command: uvicorn app.main:app --port $PORT
                cwd: services/api
                env: { DATABASE_URL: "postgres://${db.host}:${db.port}/shop" }
                port: auto
                route: [api, "@"]
                replicas: 2
                depends_on: { db: { condition: healthy } }
                health: { http: /healthz, interval: 2s, timeout: 500ms, retries: 4, start_period: 1m30s }
                restart: always
                max_restarts: 7
                setup: pip install -r requirements.txt
                setup_inputs: [requirements.txt]
                stop_signal: INT
                stop_timeout: 3s
                host_header: upstream
                watch: "**/*.py"
              db: { command: [postgres, -D, .devhost/pg], port: 5433, health: { exec: pg_isready } }
              worker: { command: python worker.py, port: none, restart: no }
            """)
        #expect(manifest.name == "shop")
        #expect(manifest.proxy == ProxySettings(port: 8088, bind: "127.0.0.1", domain: "test"))
        #expect(manifest.envFile?.hasSuffix("/.env") == true)
        #expect(manifest.env.map(\.key) == ["LOG_LEVEL", "WORKERS"])
        #expect(manifest.env.map(\.value) == ["debug", "4"])
        let api = try #require(manifest.service(named: "api"))
        #expect(api.command == .shell("uvicorn app.main:app --port $PORT"))
        #expect(api.cwd == manifest.directory + "/services/api")
        #expect(api.relativeCwd == "services/api")
        #expect(api.port == .auto)
        #expect(api.routes == ["api", "@"])
        #expect(manifest.host(forRoute: "@") == "shop.test")
        #expect(api.replicas == 2)
        #expect(api.dependsOn.map(\.service) == ["db"])
        #expect(api.dependsOn.first?.condition == .healthy)
        #expect(
            api.health
                == HealthCheck(
                    probe: .http(path: "/healthz"), interval: .seconds(2), timeout: .milliseconds(500), retries: 4,
                    startPeriod: .seconds(90)))
        #expect(api.restart == .always)
        #expect(api.maxRestarts == 7)
        #expect(api.setup == .shell("pip install -r requirements.txt"))
        #expect(api.setupInputs == ["requirements.txt"])
        #expect(api.stopSignal == .int)
        #expect(api.stopTimeout == .seconds(3))
        #expect(api.rewriteHost)
        #expect(api.watch == ["**/*.py"])
        let db = try #require(manifest.service(named: "db"))
        #expect(db.command == .argv(["postgres", "-D", ".devhost/pg"]))
        #expect(db.port == .fixed(5433))
        #expect(db.routes == ["db"])
        #expect(db.health?.probe == .exec("pg_isready"))
        let worker = try #require(manifest.service(named: "worker"))
        #expect(worker.port == PortSpec.none)
        #expect(worker.routes.isEmpty)
        #expect(worker.health == nil)
        #expect(worker.restart == .no)
        #expect(manifest.startOrder.map(\.name) == ["db", "api", "worker"])
    }

    @Test func defaultsAreFilledIn() throws {
        let project = try TempProject(["devhost.yml": "services:\n  web_app: { command: ./run }\n"])
        let manifest = try project.load()
        #expect(manifest.name == DNSLabel.sanitize(URL(fileURLWithPath: project.path).lastPathComponent))
        #expect(manifest.proxy == ProxySettings(port: 7777, bind: "127.0.0.1", domain: "localhost"))
        let web = try #require(manifest.services.first)
        #expect(web.port == .auto)
        #expect(web.routes == ["web-app"])
        #expect(web.replicas == 1)
        #expect(web.health == HealthCheck(probe: .tcp, interval: .seconds(1), timeout: .seconds(1), retries: 3, startPeriod: .seconds(30)))
        #expect(web.restart == .onFailure)
        #expect(web.maxRestarts == 5)
        #expect(web.stopSignal == .term)
        #expect(web.stopTimeout == .seconds(10))
        #expect(web.cwd == manifest.directory)
    }

    @Test func dependsOnAcceptsListShorthandAndComposeSpelling() throws {
        let manifest = try load(
            """
            services:
              a: { command: x, depends_on: [b] }
              b: { command: x, depends_on: { c: healthy, d: { condition: service_completed_successfully } } }
              c: { command: x }
              d: { command: x, port: none }
            """)
        #expect(
            manifest.service(named: "a")?.dependsOn == [
                Dependency(service: "b", condition: .started, location: manifest.service(named: "a")?.dependsOn.first?.location)
            ])
        #expect(manifest.service(named: "b")?.dependsOn.map(\.condition) == [.healthy, .completed])
        #expect(manifest.startOrder.map(\.name) == ["c", "d", "b", "a"])
    }

    @Test func durationsParseAndFormat() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("2") == .seconds(2))
        #expect(DurationText.parse("1x") == nil)
        // Found by the manifest fuzzer: a number past Int64's milliseconds trapped instead of failing.
        #expect(DurationText.parse("5444444444444444444444444444444400ms") == nil)
        #expect(DurationText.parse("1e300") == nil)
        #expect(DurationText.parse("876000h") == .seconds(876_000 * 3600))
        #expect(DurationText.parse("876001h") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(DurationText.parse("s") == nil)
        #expect(DurationText.format(.seconds(90)) == "1m30s")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
    }

    @Test func missingManifestIsAClearError() throws {
        let project = try TempProject()
        #expect(throws: ManifestError.self) { try ManifestLoader().locate(from: project.path) }
        do {
            _ = try ManifestLoader().locate(from: project.path)
        } catch {
            #expect(error.description.contains("no devhost.yml found"))
        }
    }

    @Test func manifestIsFoundFromASubfolder() throws {
        let project = try TempProject(["devhost.yml": "services: { a: { command: x } }\n", "src/deep/file.txt": ""])
        let found = try ManifestLoader().locate(from: project.path + "/src/deep")
        #expect(found == URL(fileURLWithPath: project.path).standardizedFileURL.appendingPathComponent("devhost.yml").path)
    }

    @Test func jsonOutputIsValidJSON() throws {
        let manifest = try load("name: demo\nservices:\n  api: { command: \"echo \\\"hi\\\"\", health: { http: /h } }\n")
        let text = manifest.json.serialized(pretty: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "demo")
        let services = try #require(object["services"] as? [[String: Any]])
        #expect(services.first?["command"] as? String == "echo \"hi\"")
        #expect(services.first?["routes"] as? [String] == ["api.demo.localhost"])
    }
}
