import DevhostManifest
import Foundation
import Testing

/// `devhost import localport`: LocalPort configs (Tests/Fixtures/localport) into devhost services that
/// devhost itself loads, with what cannot carry over listed; merged into an existing devhost.yml
/// without losing anything in it.
@Suite struct LocalPortImportTests {
    func fixture(_ name: String) throws -> String {
        try String(contentsOfFile: repositoryRoot.appendingPathComponent("Tests/Fixtures/localport/\(name)").path, encoding: .utf8)
    }

    @Test func localPortsOwnExampleBecomesTheseServices() throws {
        let converted = try LocalPortImport.convert(try fixture("example.yaml"), file: "example.yaml", environment: [:])
        #expect(
            converted.manifest == """
                services:
                  web:
                    forward:
                      kubectl: { namespace: default, target: svc/web, remote_port: 18081 }
                    port: 18080
                    health: { http: /health, interval: 5s, timeout: 2s, retries: 2 }
                    max_restarts: 3
                    x-localport-tags: [web]

                  tunnel:
                    forward:
                      ssh: { host: bastion.example.com, user: deploy, identity_file: ~/.ssh/id_ed25519 }
                      remote: db.internal:5432
                    port: 5433
                    profiles: [disabled]

                """, "\(converted.manifest)")
        #expect(
            converted.notes == [
                "web.health_check.config.expected_content: not carried over (devhost's http check looks at the status only)",
                "web.restart_policy.initial_delay: not carried over (devhost's own exponential backoff applies)",
                "web.restart_policy.backoff_multiplier: not carried over (devhost's own exponential backoff applies)",
                "web.restart_policy.max_delay: not carried over (devhost's own exponential backoff applies)",
                "web.tags: kept as x-localport-tags; devhost has no tags (`devhost up web …` starts a subset)",
                "tunnel.enabled: false became profiles: [disabled] (`devhost up --profile disabled` starts it)",
            ], "\(converted.notes)")
        try expectLoads(converted.manifest)
    }

    @Test func everyFieldOfATeamConfigIsCarriedOrListed() throws {
        let converted = try LocalPortImport.convert(
            try fixture("team.yaml"), file: "team.yaml", environment: ["PGPASSWORD": "from-env"])
        let text = converted.manifest
        for expected in [
            "  # Staging database through the bastion\n  postgres-staging:",
            "ssh: { host: bastion.staging.example.com, user: deploy, port: 2222, identity_file: ~/.ssh/team_ed25519 }",
            "remote: db.internal:5432", "health: { postgres: { user: app, database: app }, interval: 15s, timeout: 3.0s, retries: 2 }",
            "max_restarts: 5", "kubectl: { context: staging, namespace: data, target: pod/kafka-0, remote_port: 9092 }",
            "health: { kafka: true, interval: 60s, timeout: 10.0s }", "  admin-api:", "target: deploy/admin, remote_port: 80",
            "health: { http: /healthz, interval: 30s, timeout: 5s }", "target: pod/redis-0", "restart: no",
            "  legacy-ldap:\n    forward:\n      ssh: { host: jump.example.com, user: ops }\n      remote: localhost:389",
        ] {
            #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
        }
        #expect(!text.contains("hunter2") && !text.contains("from-env"), "passwords stay out of devhost.yml")
        let notes = converted.notes.joined(separator: "\n")
        for expected in [
            "${BASTION_HOST}: replaced by its value now", "${PGPASSWORD}: replaced by its value now", "defaults: applied",
            "cluster_contexts: not carried over", "admin api: renamed admin-api",
            "postgres-staging.health_check.config.password: not needed", "postgres-staging.health_check.config.sslmode",
            "kafka.connection.resource_type: statefulset became its first pod, pod/kafka-0",
            "legacy-ldap.connection.password: not carried over", "legacy-ldap.enabled: false became profiles: [disabled]",
            "postgres-staging.tags: kept as x-localport-tags",
        ] {
            #expect(notes.contains(expected), "missing note \(expected) in:\n\(notes)")
        }
        try expectLoads(text)
    }

    @Test func brokenConfigsAreRefusedWithPositions() throws {
        let error = #expect(throws: ManifestError.self) {
            try LocalPortImport.convert(
                "services:\n  - name: a\n    technology: docker\n    local_port: 1\n    remote_port: 2\n    connection: {host: x}\n",
                file: "lp.yaml", environment: [:])
        }
        #expect(
            error?.description == "services.a.technology: \"docker\" is not kubectl or ssh (lp.yaml:3:17)", "\(String(describing: error))")
    }

    /// The import's output as devhost reads it: a manifest that loads, forwards and all.
    func expectLoads(_ manifest: String) throws {
        let project = try TempProject(["devhost.yml": manifest])
        let loaded = try project.load()
        #expect(loaded.services.allSatisfy { $0.forward != nil })
    }

    /// The command itself: writes devhost.yml, lists the notes, refuses a second import, --force and --stdout.
    @Test func theCommandWritesValidatesAndRefusesToOverwrite() throws {
        let project = try TempProject(["devhost.yml": "name: lp\nservices:\n  app: { command: ./app, port: none }\n"])
        let source = repositoryRoot.appendingPathComponent("Tests/Fixtures/localport/example.yaml").path
        let first = try run([devhostBinary, "import", "localport", source], in: project.path)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("note: tunnel.enabled: false became profiles: [disabled]"), "\(first.output)")
        let written = try project.read("devhost.yml")
        #expect(written.hasPrefix("name: lp\nservices:\n  app: { command: ./app, port: none }\n  web:\n"), "\(written)")
        let validate = try run([devhostBinary, "validate"], in: project.path)
        #expect(validate.status == 0 && validate.output.contains("3 services"), "\(validate.output)")

        let again = try run([devhostBinary, "import", "localport", source], in: project.path)
        #expect(
            again.status == 1 && again.output.contains("services.web: already exists; --force replaces it (devhost.yml:4:3)"),
            "\(again.output)")
        #expect(try project.read("devhost.yml") == written)
        let forced = try run([devhostBinary, "import", "localport", "--force", source], in: project.path)
        let afterForce = try project.read("devhost.yml")
        #expect(forced.status == 0 && afterForce == written, "\(forced.output)")

        let printed = try run([devhostBinary, "import", "localport", "--stdout", source], in: project.path)
        #expect(printed.status == 0 && printed.output.contains("services:\n  web:\n    forward:\n"), "\(printed.output)")
        #expect(try project.read("devhost.yml") == written)
        let left = try FileManager.default.contentsOfDirectory(atPath: project.path).filter { $0.hasPrefix(".devhost-import-") }
        #expect(left.isEmpty, "the trial file is removed: \(left)")
    }

    static let existing = """
        # The team's services. Keep this comment.
        name: shop
        services:
          api:
            command: ./api   # the app
            depends_on: [web]

          # the old tunnel, by hand
          web:
            command: ssh -N -L 18080:web:80 bastion

        env:
          LOG_LEVEL: debug
        """

    @Test func mergingKeepsEverythingAndRefusesAClashUnlessForced() throws {
        let converted = try LocalPortImport.convert(try fixture("example.yaml"), file: "example.yaml", environment: [:])
        let clash = #expect(throws: ManifestError.self) {
            try ServicesMerge.merge(converted.services, into: Self.existing, file: "devhost.yml", force: false)
        }
        #expect(clash?.description == "services.web: already exists; --force replaces it (devhost.yml:9:3)", "\(String(describing: clash))")

        let merged = try ServicesMerge.merge(converted.services, into: Self.existing, file: "devhost.yml", force: true)
        #expect(
            merged.hasPrefix("# The team's services. Keep this comment.\nname: shop\nservices:\n  api:\n    command: ./api   # the app\n"))
        #expect(merged.contains("  # the old tunnel, by hand\n  web:\n    forward:\n      kubectl:"), "\(merged)")
        #expect(!merged.contains("ssh -N -L"), "the forced service is replaced")
        #expect(merged.contains("  tunnel:\n") && merged.hasSuffix("\nenv:\n  LOG_LEVEL: debug\n"), "\(merged)")
        let manifest = try TempProject(["devhost.yml": merged]).load()
        #expect(manifest.services.map(\.name) == ["api", "web", "tunnel"])
        #expect(manifest.env.first?.key == "LOG_LEVEL")

        let fresh = try ServicesMerge.merge(converted.services, into: "", file: "devhost.yml", force: false)
        #expect(fresh == converted.manifest)
    }

    @Test func mergingFollowsTheFilesIndentation() throws {
        let converted = try LocalPortImport.convert(try fixture("example.yaml"), file: "example.yaml", environment: [:])
        let merged = try ServicesMerge.merge(
            converted.services, into: "services:\n    api:\n        command: ./api\n", file: "devhost.yml", force: false)
        #expect(merged.contains("\n    web:\n      forward:\n"), "\(merged)")
        #expect(try TempProject(["devhost.yml": merged]).load().services.map(\.name) == ["api", "web", "tunnel"])
        let flow = #expect(throws: ManifestError.self) {
            try ServicesMerge.merge(converted.services, into: "services: { api: { command: x } }\n", file: "devhost.yml", force: false)
        }
        #expect(flow?.description.contains("not a block mapping") == true)
    }
}
