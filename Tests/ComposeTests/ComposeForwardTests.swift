import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// Forward services are tunnels from this machine: compose and kube leave them out, with a note.
@Suite struct ComposeForwardTests {
    static let manifest = """
        services:
          db:
            forward:
              ssh: { host: bastion, user: deploy }
              remote: db.internal:5432
            port: 15432
            health: { postgres: { user: app } }
          events:
            forward: { kubectl: { context: staging, namespace: data, target: svc/kafka, remote_port: 9092 } }
          migrate: { command: ./migrate, image: "alpine:3" }
          api:
            command: ./api
            image: "alpine:3"
            route: api
            depends_on: { db: { condition: healthy }, events: { condition: completed }, migrate: { condition: completed } }
            env: { DATABASE_URL: "postgres://${db.host}:${db.port}/app", KAFKA: "${events.host}:${events.port}" }
        """

    static let dbNote =
        "db is a devhost forward (ssh deploy@bastion → db.internal:5432), not a container: point DATABASE_URL at the real one"
    static let eventsNote =
        "events is a devhost forward (kubectl staging/data svc/kafka:9092), not a container: point KAFKA at the real one"

    @Test func composeLeavesForwardsOutWithANoteAboveTheDependent() throws {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let file = ComposeFile(manifest: try project.load())
        let rendered = try file.render()
        let document = try #require(try Yams.load(yaml: rendered) as? [String: Any])
        let services = try #require(document["services"] as? [String: [String: Any]])
        #expect(services.keys.sorted() == ["api", "migrate"])
        let dependsOn = try #require(services["api"]?["depends_on"] as? [String: Any])
        #expect(dependsOn.keys.sorted() == ["migrate"])
        #expect(rendered.contains("  # \(Self.dbNote)\n  # \(Self.eventsNote)\n  api:\n"), "\(rendered)")
        try file.write(to: file.defaultPath, force: false)
        try validateWithComposeTools(file.defaultPath)
    }

    @Test func kubeLeavesForwardsOutWithoutWaitsAndWarns() throws {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let manifest = try project.load()
        let output = try KubeFolder(export: try KubeExport(manifest: manifest)).render()
        #expect(output.files.map(\.name) == ["api.yaml", "ingress.yaml", "kustomization.yaml", "migrate.yaml", "wait-for-jobs.yaml"])
        #expect(
            output.warnings == [
                "db is a devhost forward (ssh deploy@bastion → db.internal:5432): left out, as it runs nowhere but on this machine",
                "events is a devhost forward (kubectl staging/data svc/kafka:9092): left out, as it runs nowhere but on this machine",
            ])
        let api = try #require(output.files.first { $0.name == "api.yaml" }?.content)
        #expect(api.contains("# \(Self.dbNote)\n# \(Self.eventsNote)\n"), "\(api)")
        let (_, built) = try writeBuildAndValidate(manifest, label: "forwards")
        let objects = try kubeObjects([built])
        #expect(objects.keys.contains { $0.contains("db") || $0.contains("events") } == false, "\(objects.keys.sorted())")
        let deployment = try #require(objects["Deployment/api"], "\(objects.keys.sorted())")
        let spec = try #require((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])
        let pod = try #require(spec["spec"] as? [String: Any])
        let waits = (pod["initContainers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(waits == ["wait-for-migrate"])
    }
}
