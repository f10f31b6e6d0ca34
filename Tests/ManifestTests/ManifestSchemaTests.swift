import DevhostManifest
import Foundation
import Testing

@Suite struct ManifestSchemaTests {
    func schema() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(ManifestSchema.json.utf8)) as? [String: Any])
    }

    func propertyNames(_ object: Any?) -> [String] {
        ((object as? [String: Any])?["properties"] as? [String: Any])?.keys.sorted() ?? []
    }

    @Test func schemaNamesExactlyTheKeysTheParserAccepts() throws {
        let schema = try schema()
        let definitions = try #require(schema["definitions"] as? [String: Any])
        let proxy = (schema["properties"] as? [String: Any])?["proxy"]
        #expect(propertyNames(schema) == ManifestKeys.root.sorted())
        #expect(propertyNames(proxy) == ManifestKeys.proxy.sorted())
        #expect(propertyNames(definitions["service"]) == ManifestKeys.service.sorted())
        #expect(propertyNames(definitions["health"]) == ManifestKeys.health.sorted())
        #expect(propertyNames(definitions["pathRoute"]) == ManifestKeys.route.sorted())
    }

    /// The schema and the parser must agree on real manifests: every bundled one passes both,
    /// and a broken one fails both.
    @Test func bundledManifestsValidateAgainstTheSchema() throws {
        let root = repositoryRoot
        let schemaFile = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-schema-\(UUID().uuidString).json")
        try ManifestSchema.json.write(to: schemaFile, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: schemaFile) }

        let examples = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("examples").path)
            .map { root.appendingPathComponent("examples/\($0)/devhost.yml").path }
            .filter { FileManager.default.fileExists(atPath: $0) }
        #expect(!examples.isEmpty)
        for file in examples {
            _ = try ManifestLoader().load(file)
            let result = try run(["check-jsonschema", "--schemafile", schemaFile.path, file])
            #expect(result.status == 0, "\(file): \(result.output)")
        }

        let bad = try TempProject(["devhost.yml": "services:\n  a: { command: x, restrat: always }\n"])
        #expect(throws: ManifestError.self) { try bad.load() }
        let result = try run(["check-jsonschema", "--schemafile", schemaFile.path, bad.path + "/devhost.yml"])
        #expect(result.status != 0, "the schema accepted an unknown key")
    }
}
