import DevhostManifest
import Foundation
import Testing

@Suite struct OverlayAndEnvTests {
    static let base = """
        name: shop
        env: { LOG_LEVEL: info }
        services:
          api: { command: ./api, replicas: 1, env: { A: "1", B: "2" } }
          web: { command: ./web }
        """

    @Test func overlayMergesMappingsAndReplacesScalars() throws {
        let project = try TempProject([
            "devhost.yml": Self.base,
            "devhost.staging.yml":
                "env: { LOG_LEVEL: warning }\nservices:\n  api: { replicas: 3, env: { B: \"20\" } }\n  extra: { command: ./extra }\n",
        ])
        let manifest = try project.load(overlay: "staging")
        #expect(manifest.env.first?.value == "warning")
        let api = try #require(manifest.service(named: "api"))
        #expect(api.replicas == 3)
        #expect(api.env.map(\.value) == ["1", "20"])
        #expect(manifest.services.map(\.name) == ["api", "web", "extra"])
        #expect(manifest.overlays.count == 1)
    }

    @Test func devhostEnvSelectsTheOverlay() throws {
        let project = try TempProject(["devhost.yml": Self.base, "devhost.ci.yml": "services:\n  web: { port: 9000 }\n"])
        let manifest = try project.load(environment: ["DEVHOST_ENV": "ci"])
        #expect(manifest.service(named: "web")?.port == .fixed(9000))
    }

    @Test func overlayErrorsNameTheOverlayFile() throws {
        let project = try TempProject(["devhost.yml": Self.base, "devhost.bad.yml": "services:\n  api: { replicas: many }\n"])
        do {
            _ = try project.load(overlay: "bad")
            Issue.record("the overlay's error was not reported")
        } catch {
            #expect(
                error.issues.map(\.description) == ["services.api.replicas: expected a whole number, found \"many\" (devhost.bad.yml:2:20)"]
            )
        }
    }

    @Test func missingOverlayIsAnError() throws {
        let project = try TempProject(["devhost.yml": Self.base])
        #expect(throws: ManifestError.self) { try project.load(overlay: "prod") }
    }

    @Test func envFileParsing() throws {
        let entries = try EnvFile.parse(
            """
            # comment
            export A=1
            B = "two words"
            C='lit $HOME \\n'
            D="line\\nbreak"
            E=value # trailing comment
            F=
            """, file: ".env")
        let values = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
        #expect(values == ["A": "1", "B": "two words", "C": "lit $HOME \\n", "D": "line\nbreak", "E": "value", "F": ""])
    }

    @Test func badEnvFileNamesFileAndLine() throws {
        let project = try TempProject([
            "devhost.yml": "env_file: .env\nservices: { a: { command: x } }\n", ".env": "A=1\nthis is wrong\nB=\"open\n",
        ])
        do {
            _ = try project.load()
            Issue.record("a malformed .env was accepted")
        } catch {
            #expect(error.issues.map { $0.location?.line } == [2, 3])
            #expect(error.issues.allSatisfy { $0.location?.file.hasSuffix(".env") == true })
        }
    }

    @Test func serviceEnvironmentLayersAndInterpolates() throws {
        let project = try TempProject([
            "devhost.yml": """
            env_file: .env
            env: { GREETING: "hello ${WHO}", LEVEL: info }
            services:
              api:
                command: [serve, "--port", "${PORT}", "--db", "${db.url}"]
                env: { LEVEL: debug, SELF: "${HOST}:${PORT}", DB: "${db.url}", PORT: "1" }
              db: { command: x }
            """,
            ".env": "WHO=world\nSECRET=s3\n",
        ])
        let manifest = try project.load()
        let builder = ServiceEnvironment(inherited: ["PATH": "/bin", "LEVEL": "outer"]) { ref in
            ref.service == "db" && ref.field == .url ? "http://127.0.0.1:40001" : nil
        }
        let api = try #require(manifest.service(named: "api"))
        let env = try builder.environment(for: api, in: manifest, instance: .init(index: 2, port: 45000))
        #expect(env["PATH"] == "/bin")
        #expect(env["SECRET"] == "s3")
        #expect(env["GREETING"] == "hello world")
        #expect(env["LEVEL"] == "debug")
        #expect(env["SELF"] == "127.0.0.1:45000")
        #expect(env["DB"] == "http://127.0.0.1:40001")
        #expect(env["PORT"] == "45000", "PORT belongs to devhost")
        #expect(env["DEVHOST_SERVICE"] == "api")
        #expect(env["DEVHOST_INSTANCE"] == "2")
        #expect(try builder.render(api.command, env: env) == ["serve", "--port", "45000", "--db", "http://127.0.0.1:40001"])
    }

    @Test func procfileFallback() throws {
        let project = try TempProject(["Procfile": "# honcho\nweb: gunicorn app:app --bind 127.0.0.1:$PORT\nworker: celery -A app worker\n"]
        )
        let manifest = try project.load()
        #expect(manifest.services.map(\.name) == ["web", "worker"])
        #expect(manifest.services.allSatisfy { $0.port == .auto })
        #expect(manifest.service(named: "web")?.command == .shell("gunicorn app:app --bind 127.0.0.1:$PORT"))
        #expect(manifest.service(named: "web")?.routes == ["web"])
    }

    @Test func badProcfileLine() throws {
        let project = try TempProject(["Procfile": "web: ok\nno colon here\n"])
        do {
            _ = try project.load()
            Issue.record("accepted")
        } catch {
            #expect(error.issues.first?.description == "expected \"name: command\" (Procfile:2:1)")
        }
    }
}
