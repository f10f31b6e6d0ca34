import DevhostManifest
import Testing

@Suite struct ProfilesTests {
    static let yaml = """
        services:
          app: { command: ./app, depends_on: { db: { condition: healthy } } }
          db: { command: postgres, profiles: [local], health: { postgres: true } }
          db-tunnel: { command: ssh -N bastion, profiles: [remote, staging] }
          tools: { command: ./tools, port: none, profiles: [debug] }
        """

    @Test func servicesWithProfilesRunOnlyWhenOneIsActive() throws {
        let manifest = try load(Self.yaml)
        #expect(manifest.profiles == ["debug", "local", "remote", "staging"])
        #expect(manifest.service(named: "db-tunnel")?.profiles == ["remote", "staging"])
        #expect(try manifest.activating(profiles: ["local"]).services.map(\.name) == ["app", "db"])
        #expect(try manifest.activating(profiles: ["local", "staging"]).services.map(\.name) == ["app", "db", "db-tunnel"])
        // A service named on the command line runs whatever its profiles, as in compose.
        #expect(try manifest.activating(profiles: ["local"], requested: ["tools"]).services.map(\.name) == ["app", "db", "tools"])
    }

    @Test func aDependencyLeftOutByProfilesIsAnErrorAtItsPosition() throws {
        let manifest = try load(Self.yaml)
        let error = #expect(throws: ManifestError.self) { try manifest.activating(profiles: []) }
        let issue = try #require(error?.issues.first)
        #expect(issue.path == "services.app.depends_on.db")
        #expect(issue.message.contains("\"db\" runs only with profile local, which is not active: add --profile local"), "\(issue)")
        #expect(
            issue.location?.file.hasSuffix("devhost.yml") == true && issue.location?.line == 2 && issue.location?.column == 40, "\(issue)")
    }

    @Test func anActiveProfileNoServiceHasIsAnError() throws {
        let error = #expect(throws: ManifestError.self) { try load(Self.yaml).activating(profiles: ["locl"]) }
        #expect(
            error?.description.contains("has profile \"locl\" (profiles: debug, local, remote, staging)") == true,
            "\(String(describing: error))")
    }

    @Test func profilesFromTheEnvironment() {
        #expect(Manifest.profiles(fromEnvironment: ["COMPOSE_PROFILES": "a, b,,c"]) == ["a", "b", "c"])
        #expect(Manifest.profiles(fromEnvironment: ["COMPOSE_PROFILES": "a", "DEVHOST_PROFILES": "z"]) == ["z"])
        #expect(Manifest.profiles(fromEnvironment: [:]).isEmpty)
    }

    @Test func badProfileNamesAreNamedWithTheirPosition() throws {
        let found = try issues("services:\n  a: { command: x, profiles: [ok, \"-bad\"] }\n  b: { command: x, profiles: remote }\n")
        let bad = try #require(found.first { $0.path == "services.a.profiles[1]" }, "\(found)")
        #expect(bad.message.contains("is not a profile name") && bad.location?.line == 2 && bad.location?.column == 35, "\(bad)")
        let notList = try #require(found.first { $0.path == "services.b.profiles" }, "\(found)")
        #expect(notList.message.contains("expected a list of profile names") && notList.location?.line == 3, "\(notList)")
    }
}
