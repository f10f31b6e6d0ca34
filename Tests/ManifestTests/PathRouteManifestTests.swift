import DevhostManifest
import Foundation
import Testing

/// `route:` with path prefixes: every earlier form still reads the same, the mapping form reads as
/// written, and each mistake is reported at its key and position.
@Suite struct PathRouteManifestTests {
    struct Form: CustomTestStringConvertible, Sendable {
        var route: String
        /// host + path (+ " strip") per entry.
        var expected: [String]
        var testDescription: String { "route: \(route)" }
    }

    static let forms: [Form] = [
        Form(route: "", expected: ["api"]),
        Form(route: "route: web", expected: ["web"]),
        Form(route: "route: \"@\"", expected: ["@"]),
        Form(route: "route: [web, \"@\"]", expected: ["web", "@"]),
        Form(route: "route: false", expected: []),
        Form(route: "route: none", expected: []),
        Form(route: "route: null", expected: []),
        Form(route: "route: { host: \"@\", path: /api }", expected: ["@/api"]),
        Form(route: "route: [{ host: \"@\", path: /api, strip_prefix: true }]", expected: ["@/api strip"]),
        Form(route: "route: [web, { host: \"@\", path: /api/v2/ }]", expected: ["web", "@/api/v2"]),
        Form(route: "route: [{ host: Shop, path: / }]", expected: ["shop/"]),
        Form(route: "route: [{ host: \"@\", path: \"/a%2Fb\", strip_prefix: false }]", expected: ["@/a%2Fb"]),
        Form(route: "route: [{ host: \"@\" }]", expected: ["@"]),
    ]

    @Test(arguments: forms)
    func eachFormReadsAsWritten(_ form: Form) throws {
        let manifest = try load("services:\n  api:\n    command: x\n    \(form.route)\n")
        let routes = try #require(manifest.service(named: "api")).routeEntries
        #expect(routes.map { $0.host + ($0.path ?? "") + ($0.stripPrefix ? " strip" : "") } == form.expected)
    }

    @Test func pathRoutesOfTwoServicesShareAHost() throws {
        let manifest = try load(
            """
            name: shop
            services:
              web: { command: x, route: "@" }
              api: { command: x, route: [{ host: "@", path: /api, strip_prefix: true }] }
              v2: { command: x, route: [{ host: "@", path: /api/v2 }] }
            """)
        #expect(manifest.service(named: "api")?.routes == ["@"])
        #expect(manifest.address(of: manifest.service(named: "v2")!.routeEntries[0]) == "shop.localhost/api/v2")
    }

    /// The editor's schema agrees with the parser on the new form, both ways.
    @Test func theSchemaAcceptsWhatTheParserAccepts() throws {
        let schemaFile = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-schema-\(UUID().uuidString).json")
        try ManifestSchema.json.write(to: schemaFile, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: schemaFile) }
        let good = try TempProject([
            "devhost.yml":
                "services:\n  web: { command: x, route: \"@\" }\n  api:\n    command: x\n    route: [web2, { host: \"@\", path: /api, strip_prefix: true }]\n"
        ])
        _ = try good.load()
        let accepted = try run(["check-jsonschema", "--schemafile", schemaFile.path, good.path + "/devhost.yml"])
        #expect(accepted.status == 0, "\(accepted.output)")
        let bad = try TempProject(["devhost.yml": "services:\n  api: { command: x, route: [{ host: \"@\", prefix: /api }] }\n"])
        #expect(throws: ManifestError.self) { try bad.load() }
        #expect(try run(["check-jsonschema", "--schemafile", schemaFile.path, bad.path + "/devhost.yml"]).status != 0)
    }

    /// A manifest with one mistake, where it is and what is said (the validation suite's table row).
    typealias Problem = ManifestValidationTests.Case

    static let problems: [Problem] = [
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: api }]\n",
            path: "services.a.route[0].path", message: "\"api\" must start with /", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: \"/api?x=1\" }]\n",
            path: "services.a.route[0].path", message: "must not contain \"?\"", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: \"/api#top\" }]\n",
            path: "services.a.route[0].path", message: "must not contain \"#\"", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: /api/../admin }]\n",
            path: "services.a.route[0].path", message: "must not contain . or .. segments", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: /api//x }]\n",
            path: "services.a.route[0].path", message: "empty segment", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: \"/a b\" }]\n",
            path: "services.a.route[0].path", message: "must be visible ASCII", line: 4, column: 32),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", strip_prefix: true }]\n",
            path: "services.a.route[0].strip_prefix", message: "needs a path", line: 4, column: 40),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: { path: /api }\n",
            path: "services.a.route.host", message: "is missing", line: 4, column: 12),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", prefix: /api }]\n",
            path: "services.a.route[0].prefix", message: "unknown key \"prefix\"", line: 4, column: 26),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: /api, strip_prefix: maybe }]\n",
            path: "services.a.route[0].strip_prefix", message: "expected true or false", line: 4, column: 52),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: a_b, path: /x }]\n",
            path: "services.a.route[0].host", message: "\"a_b\"", line: 4, column: 21),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    port: none\n    route: [{ host: \"@\", path: /x }]\n",
            path: "services.a.route", message: "port: none cannot have a route", line: 5, column: 12),
        // The same host and path twice: the second names the first's position.
        Problem(
            yaml:
                "name: shop\nservices:\n  a:\n    command: x\n    route: [{ host: \"@\", path: /api }]\n  b:\n    command: x\n    route: [{ host: \"@\", path: /api/ }]\n",
            path: "services.b.route", message: "shop.localhost/api is already the route of \"a\" (devhost.yml:5:13)",
            line: 8, column: 13),
        Problem(
            yaml: "services:\n  a:\n    command: x\n    route: [{ host: \"@\", path: /api }, { host: \"@\", path: /api }]\n",
            path: "services.a.route", message: "is already another route of this service (devhost.yml:4:13)", line: 4, column: 40),
    ]

    @Test(arguments: problems)
    func eachProblemNamesItsKeyAndPosition(_ c: Problem) throws {
        let found = try issues(c.yaml)
        let issue = try #require(found.first { $0.path == c.path && $0.message.contains(c.message) }, "got: \(found)")
        #expect(issue.location?.file == "devhost.yml")
        #expect(issue.location?.line == c.line, "\(issue)")
        #expect(issue.location?.column == c.column, "\(issue)")
    }
}
