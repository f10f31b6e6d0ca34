import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// Parses YAML into plain values and prints them canonically, so documents compare by meaning, not layout.
func canonical(_ yaml: String) throws -> String {
    let value = try Yams.load(yaml: yaml) as Any
    let data = try JSONSerialization.data(withJSONObject: value as Any, options: [.sortedKeys, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}

/// A project with the folders compose needs (`build:` contexts must exist for `docker-compose config`).
func project(_ manifest: String, folders: [String] = [], files: [String: String] = [:]) throws -> TempProject {
    var all = files
    all["devhost.yml"] = manifest
    for folder in folders { all[folder + "/.keep"] = "" }
    return try TempProject(all)
}

/// Runs both validators the compose issue names on a generated file.
func validateWithComposeTools(_ path: String) throws {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    let dc = try run(["docker-compose", "-f", path, "config", "-q"], in: directory)
    #expect(dc.status == 0, "docker-compose config: \(dc.output)")
    let schema = try run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", path])
    #expect(schema.status == 0, "check-jsonschema: \(schema.output)")
}

@Suite struct ComposeGeneratorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var manifest: String
        var folders: [String] = []
        var files: [String: String] = [:]
        var expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "references, conditions and a python health check",
            manifest: """
                name: shop
                env: { LOG_LEVEL: debug }
                services:
                  api:
                    command: uvicorn app.main:app --host $HOST --port $PORT
                    cwd: services/api
                    env:
                      DATABASE_URL: "postgres://${db.host}:${db.port}/shop"
                      CALLBACK: "${api.public_url}/auth"
                      PRICE: "5$$"
                    depends_on: { db: { condition: healthy }, migrate: { condition: completed } }
                    health: { http: /healthz, interval: 2s, timeout: 1s, retries: 4, start_period: 15s }
                  db:
                    command: [postgres, -p, "${PORT}"]
                    port: 5432
                    route: false
                    image: postgres:16-alpine
                    health: { exec: "pg_isready -p $$PORT" }
                  migrate: { command: ./migrate, cwd: services/api, port: none, restart: "no" }
                """,
            folders: ["services/api"],
            files: ["services/api/Dockerfile": "FROM python:3.12-slim\n"],
            expected: """
                services:
                  api:
                    build: { context: services/api, dockerfile: Dockerfile }
                    command: [/bin/sh, -c, "uvicorn app.main:app --host $$HOST --port $$PORT"]
                    environment:
                      PORT: "8000"
                      HOST: 0.0.0.0
                      DEVHOST_SERVICE: api
                      LOG_LEVEL: debug
                      DATABASE_URL: postgres://db:5432/shop
                      CALLBACK: http://localhost:8000/auth
                      PRICE: 5$$
                    ports: ["127.0.0.1:8000:8000"]
                    depends_on:
                      db: { condition: service_healthy }
                      migrate: { condition: service_completed_successfully }
                    healthcheck:
                      test: [CMD, python, -c, "import sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5).status >= 400)"]
                      interval: 2s
                      timeout: 1s
                      retries: 4
                      start_period: 15s
                    restart: on-failure
                  db:
                    image: postgres:16-alpine
                    command: [postgres, -p, "5432"]
                    environment: { PORT: "5432", HOST: 0.0.0.0, DEVHOST_SERVICE: db, LOG_LEVEL: debug }
                    healthcheck:
                      test: [CMD-SHELL, "pg_isready -p $$PORT"]
                      interval: 1s
                      timeout: 1s
                      retries: 3
                      start_period: 30s
                    restart: on-failure
                  migrate:
                    build: { context: services/api, dockerfile: Dockerfile }
                    command: [/bin/sh, -c, ./migrate]
                    environment: { DEVHOST_SERVICE: migrate, LOG_LEVEL: debug }
                    restart: "no"
                """),
        Case(
            name: "replicas, node health check, restart and stop settings, compose-only blocks",
            manifest: """
                services:
                  web:
                    command: node server.js
                    cwd: web
                    replicas: 3
                    route: "@"
                    restart: always
                    stop_signal: INT
                    stop_timeout: 30s
                    health: { tcp: true }
                    compose:
                      volumes: ["./web/public:/app/public:ro"]
                      ports: ["127.0.0.1:9229:9229"]
                      environment: { NODE_ENV: production }
                  worker: { command: ./work, port: none, image: "busybox:1.36", health: { exec: "test -f /tmp/ok" } }
                compose:
                  services:
                    redis: { image: "redis:7-alpine" }
                  volumes:
                    data: {}
                """,
            folders: ["web"],
            expected: """
                services:
                  web:
                    build: { context: web }
                    command: [/bin/sh, -c, node server.js]
                    environment: { PORT: "8000", HOST: 0.0.0.0, DEVHOST_SERVICE: web, NODE_ENV: production }
                    ports: ["127.0.0.1:8000-8002:8000", "127.0.0.1:9229:9229"]
                    healthcheck:
                      test: [CMD, node, -e, "require('net').connect(8000, '127.0.0.1', () => process.exit(0)).on('error', () => process.exit(1))"]
                      interval: 1s
                      timeout: 1s
                      retries: 3
                      start_period: 30s
                    restart: always
                    deploy: { replicas: 3 }
                    stop_signal: SIGINT
                    stop_grace_period: 30s
                    volumes: ["./web/public:/app/public:ro"]
                  worker:
                    image: "busybox:1.36"
                    command: [/bin/sh, -c, ./work]
                    environment: { DEVHOST_SERVICE: worker }
                    healthcheck:
                      test: [CMD-SHELL, test -f /tmp/ok]
                      interval: 1s
                      timeout: 1s
                      retries: 3
                      start_period: 30s
                    restart: on-failure
                  redis: { image: "redis:7-alpine" }
                volumes:
                  data: {}
                """),
        Case(
            name: "fixed ports are published as they are and auto ports step around them",
            manifest: """
                services:
                  a: { command: ./a, port: 8000, image: alpine }
                  b: { command: ./b, image: alpine, health: { http: /up } }
                  c: { command: ./c, image: alpine, route: false, health: false }
                """,
            expected: """
                services:
                  a:
                    image: alpine
                    command: [/bin/sh, -c, ./a]
                    environment: { PORT: "8000", HOST: 0.0.0.0, DEVHOST_SERVICE: a }
                    ports: ["127.0.0.1:8000:8000"]
                    healthcheck:
                      test: [CMD-SHELL, "nc -z 127.0.0.1 8000 || (exec 3<>/dev/tcp/127.0.0.1/8000)"]
                      interval: 1s
                      timeout: 1s
                      retries: 3
                      start_period: 30s
                    restart: on-failure
                  b:
                    image: alpine
                    command: [/bin/sh, -c, ./b]
                    environment: { PORT: "8000", HOST: 0.0.0.0, DEVHOST_SERVICE: b }
                    ports: ["127.0.0.1:8001:8000"]
                    healthcheck:
                      test: [CMD-SHELL, "wget -q -O /dev/null 'http://127.0.0.1:8000/up' || curl -fsS -o /dev/null 'http://127.0.0.1:8000/up'"]
                      interval: 1s
                      timeout: 1s
                      retries: 3
                      start_period: 30s
                    restart: on-failure
                  c:
                    image: alpine
                    command: [/bin/sh, -c, ./c]
                    environment: { PORT: "8000", HOST: 0.0.0.0, DEVHOST_SERVICE: c }
                    restart: on-failure
                """),
    ]

    @Test(arguments: cases)
    func manifestBecomesTheExpectedComposeDocument(_ c: Case) throws {
        let project = try project(c.manifest, folders: c.folders, files: c.files)
        let file = ComposeFile(manifest: try project.load())
        let rendered = try file.render()
        #expect(try canonical(rendered) == canonical(c.expected), "generated:\n\(rendered)")
        try file.write(to: file.defaultPath, force: false)
        try validateWithComposeTools(file.defaultPath)
    }

    @Test func outputIsStableByteForByte() throws {
        let manifest = Self.cases[0]
        let project = try project(manifest.manifest, folders: manifest.folders, files: manifest.files)
        let first = try ComposeFile(manifest: try project.load()).render()
        let second = try ComposeFile(manifest: try project.load()).render()
        #expect(first == second)
        #expect(first.hasPrefix("# Generated by devhost from devhost.yml."))
    }

    @Test func setupStepsAndMissingDockerfilesAreExplainedInComments() throws {
        let project = try project("services:\n  api: { command: ./api, cwd: api, setup: make deps }\n", folders: ["api"])
        let rendered = try ComposeFile(manifest: try project.load()).render()
        #expect(rendered.contains("  # setup (make deps) is not run by compose: it belongs in the Dockerfile\n  api:\n"))
        #expect(rendered.contains("  # api/Dockerfile does not exist yet"))
    }

    @Test func bundledExampleValidates() throws {
        let source = repositoryRoot.appendingPathComponent("examples/shop").path
        let copy = try TempProject()
        let copied = try run(["cp", "-R", source + "/.", copy.path])
        #expect(copied.status == 0)
        let file = ComposeFile(manifest: try copy.load())
        try file.write(to: file.defaultPath, force: true)
        try validateWithComposeTools(file.defaultPath)
    }
}
