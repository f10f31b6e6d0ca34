import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

/// Every built-in template's project and the bundled example, exported and built with the real
/// `kubectl kustomize`, every resource validated against the Kubernetes schemas; and the command itself.
@Suite struct KubeBuiltInProjectTests {
    static let templates = ["django", "fastapi", "flask", "fullstack", "microservices", "node", "static"]

    /// A project made by the real `devhost init` (no git: nothing here reads history).
    static func initialised(_ template: String) throws -> (parent: TempProject, directory: String) {
        let parent = try TempProject()
        let made = try run([devhostBinary, "init", "--template", template, "--defaults", "--no-git", "demo-app"], in: parent.path)
        try #require(made.status == 0, "devhost init --template \(template): \(made.output)")
        return (parent, parent.path + "/demo-app")
    }

    @Test(arguments: templates)
    func templateProjectBuildsAndValidates(_ template: String) throws {
        let (parent, directory) = try Self.initialised(template)
        defer { withExtendedLifetime(parent) {} }
        // What a developer does first: the env file the manifest names, from the template's example.
        if FileManager.default.fileExists(atPath: directory + "/.env.example"), !FileManager.default.fileExists(atPath: directory + "/.env")
        {
            try FileManager.default.copyItem(atPath: directory + "/.env.example", toPath: directory + "/.env")
        }
        let manifest = try ManifestLoader(environment: [:]).load(directory + "/devhost.yml")
        let (folder, built) = try writeBuildAndValidate(manifest, options: KubeOptions(imagePrefix: "ghcr.io/acme"), label: template)
        let objects = try kubeObjects([built])
        for service in manifest.services {
            let awaited = manifest.services.contains { $0.dependsOn.contains { $0.service == service.name && $0.condition == .completed } }
            let kind = awaited ? "Job" : "Deployment"
            #expect(objects["\(kind)/\(service.name)"] != nil, "\(template): no \(kind) for \(service.name): \(objects.keys.sorted())")
            if service.hasPort { #expect(objects["Service/\(service.name)"] != nil, "\(template): no Service for \(service.name)") }
        }
        #expect(objects["Ingress/demo-app"] != nil, "\(template): no Ingress")
        try folder.check()
    }

    @Test func bundledExampleBuildsValidatesAndKeepsItsOrder() throws {
        let copy = try TempProject()
        let copied = try run(["cp", "-R", repositoryRoot.appendingPathComponent("examples/shop").path + "/.", copy.path])
        try #require(copied.status == 0)
        let (_, built) = try writeBuildAndValidate(try copy.load(), label: "examples/shop")
        let objects = try kubeObjects([built])
        #expect(objects["Job/migrate"] != nil)
        #expect(objects["Service/migrate"] == nil, "a service without a port has no Service")
        func initContainers(_ key: String) -> [String] {
            let spec = ((objects[key]?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            return (spec?["initContainers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        }
        #expect(initContainers("Deployment/api") == ["wait-for-migrate"])
        #expect(initContainers("Deployment/web") == ["wait-for-api"])
        #expect(initContainers("Deployment/worker") == ["wait-for-api"])
        let rules = ((objects["Ingress/shop"]?["spec"] as? [String: Any])?["rules"] as? [[String: Any]] ?? []).compactMap {
            $0["host"] as? String
        }
        #expect(rules == ["api.shop.localhost", "shop.localhost", "www.shop.localhost"])
        let webEnv = try #require(objects.first { $0.key.hasPrefix("ConfigMap/web-env") }?.value["data"] as? [String: String])
        #expect(webEnv["API_URL"] == "http://api:8000")
        #expect(webEnv["PUBLIC_API_URL"] == "http://api.shop.localhost")
    }

    @Test func commandWritesChecksAndExplainsBadInput() throws {
        let project = try TempProject(["devhost.yml": "name: shop\nservices:\n  api: { command: ./api, image: alpine }\n"])
        let written = try run([devhostBinary, "kube"], in: project.path)
        #expect(written.status == 0, "\(written.output)")
        #expect(written.output.contains("wrote \(project.path)/deploy/kube (3 files)"), "\(written.output)")
        let clean = try run([devhostBinary, "kube", "--check"], in: project.path)
        #expect(clean.status == 0 && clean.output.contains("is up to date"), "\(clean.output)")

        try project.write("devhost.yml", "name: shop\nservices:\n  api: { command: ./api --fast, image: alpine }\n")
        let stale = try run([devhostBinary, "kube", "--check"], in: project.path)
        #expect(stale.status == 1)
        #expect(
            stale.output.contains("error: \(project.path)/deploy/kube is out of date with devhost.yml; run `devhost kube`"),
            "\(stale.output)")
        #expect(stale.output.contains("deploy/kube/api.yaml: differs from what devhost.yml gives"), "\(stale.output)")
        #expect(stale.output.contains("+            - \"./api --fast\""), "\(stale.output)")

        let printed = try run([devhostBinary, "kube", "--stdout", "--namespace", "team-a"], in: project.path)
        #expect(
            printed.status == 0 && printed.output.contains("# file: kustomization.yaml\n") && printed.output.contains("namespace: team-a"))

        let usage: [([String], String)] = [
            (["--namespace", "Team_A"], "--namespace \"Team_A\": a namespace is a DNS label"),
            (["--image-prefix", "ghcr.io/acme:v2"], "--image-prefix \"ghcr.io/acme:v2\": expected REGISTRY/TEAM"),
            (["--domain", "bad_name.example"], "--domain \"bad_name.example\": expected a DNS name"),
            (["--stdout", "--check"], "--stdout and --check cannot be combined"),
            (["--check", "--force"], "--force only applies when writing"),
            (["--replicas", "2"], "Unknown option '--replicas'"),
        ]
        for (arguments, message) in usage {
            let result = try run([devhostBinary, "kube"] + arguments, in: project.path)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.output.contains(message), "\(arguments): \(result.output)")
        }
        let broken = try TempProject(["devhost.yml": "services:\n  api: { command: ./api, replicas: many }\n"])
        let invalid = try run([devhostBinary, "kube"], in: broken.path)
        #expect(invalid.status == 1 && invalid.output.contains("services.api.replicas"), "\(invalid.output)")
        #expect(invalid.output.contains("devhost.yml:2:"), "\(invalid.output)")
    }
}
