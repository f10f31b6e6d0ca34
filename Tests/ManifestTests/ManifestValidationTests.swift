import DevhostManifest
import Testing

@Suite struct ManifestValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var yaml: String
        var path: String
        var message: String
        var line: Int
        var column: Int
        var testDescription: String { path + ": " + message }
    }

    static let cases: [Case] = [
        Case(
            yaml: "services:\n  api:\n    command: x\n    health: { http: /h, interval: 1x }\n",
            path: "services.api.health.interval", message: "\"1x\" is not a duration", line: 4, column: 35),
        Case(
            yaml: "services:\n  api:\n    command: x\n    restrat: always\n",
            path: "services.api.restrat", message: "unknown key \"restrat\" (did you mean \"restart\"?)", line: 4, column: 5),
        Case(
            yaml: "nme: x\nservices: { a: { command: x } }\n",
            path: "nme", message: "unknown key \"nme\" (did you mean \"name\"?)", line: 1, column: 1),
        Case(
            yaml: "services:\n  a: { command: x, replicas: two }\n",
            path: "services.a.replicas", message: "expected a whole number, found \"two\"", line: 2, column: 30),
        Case(
            yaml: "services:\n  a: { command: x, port: 70000 }\n",
            path: "services.a.port", message: "70000 is out of range", line: 2, column: 26),
        Case(
            yaml: "services:\n  a: { command: [] }\n",
            path: "services.a.command", message: "must not be an empty list", line: 2, column: 17),
        Case(
            yaml: "services:\n  a: { port: 80 }\n",
            path: "services.a.command", message: "is missing", line: 2, column: 3),
        Case(
            yaml: "services:\n  a: { command: x, depends_on: [b] }\n  b: { command: x, depends_on: [a] }\n",
            path: "services.b.depends_on.a", message: "dependency cycle: a → b → a", line: 3, column: 33),
        Case(
            yaml: "services:\n  a: { command: x, depends_on: [ghost] }\n",
            path: "services.a.depends_on.ghost", message: "unknown service \"ghost\"", line: 2, column: 33),
        Case(
            yaml: "services:\n  a: { command: x, depends_on: [a] }\n",
            path: "services.a.depends_on.a", message: "cannot depend on itself", line: 2, column: 33),
        Case(
            yaml: "services:\n  a: { command: x, env: { U: \"${b.url}\" } }\n  c: { command: x }\n",
            path: "services.a.env.U", message: "names unknown service \"b\"", line: 2, column: 30),
        Case(
            yaml: "services:\n  a: { command: \"run ${b.nope}\" }\n  b: { command: x }\n",
            path: "services.a.command", message: "is not a service reference", line: 2, column: 17),
        Case(
            yaml: "services:\n  a: { command: \"run ${HOME\" }\n",
            path: "services.a.command", message: "is not closed", line: 2, column: 17),
        Case(
            yaml: "services:\n  a: { command: x, env: { U: \"${w.url}\" } }\n  w: { command: x, port: none }\n",
            path: "services.a.env.U", message: "\"w\" has port: none", line: 2, column: 30),
        Case(
            yaml: "services:\n  a: { command: x, route: web }\n  b: { command: x, route: web }\n",
            path: "services.b.route", message: "web.", line: 3, column: 27),
        Case(
            yaml: "services:\n  a: { command: x, port: 8000 }\n  b: { command: x, port: 8000 }\n",
            path: "services.b.port", message: "port 8000 is also used by service \"a\"", line: 3, column: 26),
        Case(
            yaml: "services:\n  a: { command: x, port: 7777 }\n",
            path: "services.a.port", message: "the proxy", line: 2, column: 26),
        Case(
            yaml: "services:\n  a: { command: x, port: 8000, replicas: 2 }\n",
            path: "services.a.replicas", message: "cannot share the fixed port 8000", line: 2, column: 3),
        Case(
            yaml: "services:\n  a: { command: x, depends_on: { b: { condition: healthy } } }\n  b: { command: x, port: none }\n",
            path: "services.a.depends_on.b", message: "has no health check", line: 2, column: 34),
        Case(
            yaml: "services:\n  a: { command: x, depends_on: { b: ready } }\n  b: { command: x }\n",
            path: "services.a.depends_on.b.condition", message: "\"ready\" is not a condition", line: 2, column: 37),
        Case(
            yaml: "services:\n  a: { command: x, restart: sometimes }\n",
            path: "services.a.restart", message: "\"sometimes\" is not a restart policy", line: 2, column: 29),
        Case(
            yaml: "services:\n  a: { command: x, stop_signal: SIGFOO }\n",
            path: "services.a.stop_signal", message: "\"SIGFOO\" is not a signal", line: 2, column: 33),
        Case(
            yaml: "services:\n  a: { command: x, health: { http: healthz } }\n",
            path: "services.a.health.http", message: "must be a path starting with /", line: 2, column: 36),
        Case(
            yaml: "services:\n  a: { command: x, health: { http: /h, tcp: true } }\n",
            path: "services.a.health", message: "choose one probe", line: 2, column: 28),
        Case(
            yaml: "services:\n  a: { command: x, port: none, route: a }\n",
            path: "services.a.route", message: "port: none cannot have a route", line: 2, column: 39),
        Case(
            yaml: "services:\n  a: { command: x, port: none, health: { tcp: true } }\n",
            path: "services.a.health", message: "tcp needs a port", line: 2, column: 40),
        Case(
            yaml: "name: My_Shop\nservices: { a: { command: x } }\n",
            path: "name", message: "may only contain letters, digits and '-'", line: 1, column: 7),
        Case(
            yaml: "services:\n  a.b: { command: x }\n",
            path: "services.a.b", message: "is not a valid service name", line: 2, column: 3),
        Case(
            yaml: "services:\n  a: { command: x, env: { 1BAD: x } }\n",
            path: "services.a.env.1BAD", message: "not a valid environment variable name", line: 2, column: 27),
        Case(yaml: "services: []\n", path: "services", message: "expected a mapping of service names", line: 1, column: 11),
        Case(yaml: "name: x\n", path: "services", message: "is missing", line: 1, column: 1),
        Case(yaml: "services:\n  a: { command: x }\n  a: { command: y }\n", path: "", message: "duplicate key", line: 2, column: 3),
        Case(yaml: "services:\n  a: { command: x\n", path: "", message: "invalid YAML", line: 3, column: 1),
        Case(yaml: "services:\n\ta: 1\n", path: "", message: "invalid YAML", line: 2, column: 1),
    ]

    @Test(arguments: cases)
    func eachProblemNamesItsKeyAndPosition(_ c: Case) throws {
        let found = try issues(c.yaml)
        let issue = try #require(found.first { $0.path == c.path && $0.message.contains(c.message) }, "got: \(found)")
        #expect(issue.location?.file == "devhost.yml")
        #expect(issue.location?.line == c.line, "\(issue)")
        #expect(issue.location?.column == c.column, "\(issue)")
        #expect(issue.description.hasSuffix("(devhost.yml:\(c.line):\(c.column))"))
    }

    @Test func theIssueExampleReadsExactlyAsDocumented() throws {
        let yaml =
            (1...12).map { _ in "# padding" }.joined(separator: "\n")
            + "\nservices:\n  api:\n    health: {         interval: 1x }\n    command: x\n"
        let found = try issues(yaml)
        #expect(
            found.map(\.description) == [
                "services.api.health.interval: \"1x\" is not a duration (write e.g. 500ms, 2s, 1m30s) (devhost.yml:15:33)"
            ])
    }

    @Test func allErrorsAreReportedAtOnce() throws {
        let found = try issues(
            """
            name: "bad name"
            services:
              a: { command: x, port: sometimes, restart: maybe, health: { interval: nope } }
              b: { command: x, depends_on: [ghost], stop_timeout: forever }
            """)
        #expect(found.count == 6, "\(found)")
        // Sorted by position so they read top to bottom.
        let lines = found.compactMap { $0.location?.line }
        #expect(lines == lines.sorted())
    }

    @Test func badYAMLNeverCrashes() throws {
        let inputs = [
            "", "---\n", "[", "{a: [}", "services: !!binary x", "services:\n  - a\n  - b\n", "*x", "services: &a\n  b: *a\n", ": :",
            "\u{0}",
        ]
        for input in inputs {
            let found = try issues(input)
            #expect(!found.isEmpty, "\(input.debugDescription) was accepted")
        }
    }
}
