import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

@Suite struct ComposeProfilesTests {
    @Test func profilesAreWrittenThroughForCompose() throws {
        let project = try TempProject([
            "devhost.yml": """
            services:
              app: { command: ./app, image: "busybox:1.36" }
              db: { command: postgres, image: "postgres:16-alpine", port: 5432, profiles: [local] }
              tunnel: { command: ssh -N bastion, image: "alpine:3", port: none, profiles: [remote, staging] }
            """
        ])
        let file = ComposeFile(manifest: try project.load())
        let document = try #require(try Yams.load(yaml: try file.render()) as? [String: Any])
        let services = try #require(document["services"] as? [String: [String: Any]])
        #expect(services["app"]?["profiles"] == nil)
        #expect(services["db"]?["profiles"] as? [String] == ["local"])
        #expect(services["tunnel"]?["profiles"] as? [String] == ["remote", "staging"])
        try file.write(to: file.defaultPath, force: false)
        try validateWithComposeTools(file.defaultPath)
        // docker-compose's own reading of the file keeps them (v1 lists every service in `config --services`,
        // so the filtering itself is compose's to test, not ours).
        let config = try run(["docker-compose", "-f", file.defaultPath, "config"], in: project.path)
        #expect(config.output.contains("profiles:\n    - remote\n    - staging"), "\(config.output)")
    }
}
