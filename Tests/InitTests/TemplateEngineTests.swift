import DevhostInit
import DevhostTestSupport
import Foundation
import Testing

/// A template written by the test: `files` maps paths under files/ to contents.
func makeTemplate(_ definition: String, files: [String: String]) throws -> TempProject {
    var all = ["template.yml": definition]
    for (path, content) in files { all["files/" + path] = content }
    return try TempProject(all)
}

/// Without `into`, the project goes to a folder that lives as long as the test process (in the temp dir).
func generateFrom(
    _ template: TempProject, name: String = "proj", sets: [String: String] = [:], into parent: TempProject? = nil, force: Bool = false,
    git: Bool = false
) throws -> ProjectGenerator.Result {
    let folder = try parent ?? keep(TempProject())
    return try ProjectGenerator(source: .folder(template.path)).generate(
        .init(target: folder.path + "/" + name, projectName: name, sets: sets, useDefaults: true, git: git, force: force))
}

@Suite struct TemplateEngineTests {
    static let definition = """
        name: custom
        description: A test template
        variables:
          flavour: { prompt: Flavour, default: vanilla, choices: [vanilla, chocolate] }
          with_docs: { type: bool, default: "no" }
          port: { default: "8080", pattern: "[0-9]+" }
        files:
          - path: "assets/*.bin"
            verbatim: true
          - path: "raw.txt"
            verbatim: true
          - path: "docs/**"
            when: with_docs
          - path: "chocolate.txt"
            when: flavour == chocolate
        """

    static let files: [String: String] = [
        "{{project_slug}}/__init__.py": "NAME = \"{{project_name}}\"  # & <not escaped>\n",
        "README.md": "# {{project_name}}\n{{#with_docs}}See docs/.{{/with_docs}}{{^with_docs}}No docs.{{/with_docs}}\nport={{port}}\n",
        "raw.txt": "{{ left alone }}\n",
        "docs/index.md": "docs for {{project_name}}\n",
        "chocolate.txt": "yum\n",
        "assets/logo.bin": "\u{0}\u{1}{{project_name}}",
    ]

    @Test func rendersContentsNamesConditionsAndVerbatimFiles() throws {
        let template = try makeTemplate(Self.definition, files: Self.files)
        let result = try generateFrom(template, name: "my-proj")
        let root = result.directory
        #expect(listFiles(root) == [".devhost/template.yml", "README.md", "assets/logo.bin", "my_proj/__init__.py", "raw.txt"])
        #expect(try String(contentsOfFile: root + "/my_proj/__init__.py", encoding: .utf8) == "NAME = \"my-proj\"  # & <not escaped>\n")
        #expect(try String(contentsOfFile: root + "/README.md", encoding: .utf8) == "# my-proj\nNo docs.\nport=8080\n")
        #expect(try String(contentsOfFile: root + "/raw.txt", encoding: .utf8) == "{{ left alone }}\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/assets/logo.bin")) == Data("\u{0}\u{1}{{project_name}}".utf8))

        let withDocs = try generateFrom(template, name: "other", sets: ["with_docs": "yes", "flavour": "chocolate"])
        #expect(listFiles(withDocs.directory).contains("docs/index.md"))
        #expect(listFiles(withDocs.directory).contains("chocolate.txt"))
        #expect(try String(contentsOfFile: withDocs.directory + "/README.md", encoding: .utf8).contains("See docs/."))
    }

    @Test func badValuesNameTheVariableAndTheRule() throws {
        let template = try makeTemplate(Self.definition, files: Self.files)
        #expect(throws: InitError.self) { try generateFrom(template, sets: ["flavour": "mint"]) }
        do {
            _ = try generateFrom(template, sets: ["flavour": "mint"])
        } catch {
            #expect(String(describing: error) == "flavour=\"mint\" is not allowed: choose one of vanilla, chocolate")
        }
        do {
            _ = try generateFrom(template, sets: ["port": "80a"])
            Issue.record("accepted a value that fails its pattern")
        } catch {
            #expect(String(describing: error) == "port=\"80a\" is not allowed: must match [0-9]+")
        }
        do {
            _ = try generateFrom(template, sets: ["colour": "red"])
            Issue.record("accepted an unknown variable")
        } catch {
            #expect(String(describing: error).contains("no variable \"colour\""))
        }
        do {
            _ = try generateFrom(template, sets: ["with_docs": "maybe"])
            Issue.record("accepted a bad bool")
        } catch {
            #expect(String(describing: error).contains("with_docs=\"maybe\""))
        }
    }

    @Test(arguments: [
        ("My_App", "lowercase letters"), ("1app", "start with a letter"), ("app-", "end with '-'"),
        ("django", "shadow a Python module"), (String(repeating: "a", count: 64), "63 characters"),
    ])
    func badProjectNamesAreRefusedWithTheRule(_ name: String, _ rule: String) throws {
        #expect(throws: InitError.self) { try TemplateAnswers.validateProjectName(name) }
        do {
            try TemplateAnswers.validateProjectName(name)
        } catch {
            #expect(String(describing: error).contains(rule), "\(error)")
        }
    }

    @Test func aFailureLeavesNothingBehind() throws {
        var files = Self.files
        files["zzz-broken.txt"] = "{{#section}}never closed"
        let template = try makeTemplate(
            Self.definition.replacingOccurrences(of: "variables:\n", with: "variables:\n  section: { type: bool, default: \"true\" }\n"),
            files: files)
        let parent = try TempProject()
        #expect(throws: InitError.self) { try generateFrom(template, into: parent) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty, "a half-written project was left")
    }

    @Test func undeclaredNamesAreErrorsNotBlanks() throws {
        let template = try makeTemplate("name: t\n", files: ["a.txt": "hello {{projct_name}}\n"])
        let parent = try TempProject()
        do {
            _ = try generateFrom(template, into: parent)
            Issue.record("a typo rendered silently")
        } catch {
            #expect(String(describing: error).contains("{{projct_name}}"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }

    @Test func nonEmptyTargetNeedsForce() throws {
        let template = try makeTemplate("name: t\n", files: ["a.txt": "new\n"])
        let parent = try TempProject(["proj/keep.txt": "mine\n", "proj/a.txt": "old\n"])
        #expect(throws: InitError.self) { try generateFrom(template, into: parent) }
        #expect(try parent.read("proj/a.txt") == "old\n")
        _ = try generateFrom(template, into: parent, force: true)
        #expect(try parent.read("proj/a.txt") == "new\n")
        #expect(try parent.read("proj/keep.txt") == "mine\n")
    }

    @Test func pathsCannotEscapeTheProject() throws {
        let dots = try makeTemplate("name: t\nvariables:\n  up: \"..\"\n", files: ["{{up}}/evil.txt": "x"])
        #expect(throws: InitError.self) { try generateFrom(dots) }

        let template = try makeTemplate("name: t\n", files: ["a.txt": "x"])
        try FileManager.default.createSymbolicLink(atPath: template.path + "/files/link", withDestinationPath: "../../../etc/passwd")
        let parent = try TempProject()
        do {
            _ = try generateFrom(template, into: parent)
            Issue.record("a link out of the template was followed")
        } catch {
            #expect(String(describing: error).contains("links outside"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }

    @Test func templateManifestErrorsHavePositions() throws {
        let template = try makeTemplate("name: t\nvariables:\n  x: { defualt: 1 }\n", files: ["a.txt": ""])
        do {
            _ = try generateFrom(template)
            Issue.record("accepted")
        } catch {
            #expect(String(describing: error).contains("variables.x.defualt: unknown key"))
            #expect(String(describing: error).contains("template.yml:3:"))
        }
    }

    @Test func globs() {
        let cases: [(String, String, Bool)] = [
            ("*.py", "a.py", true), ("*.py", "dir/a.py", false), ("**/*.py", "dir/sub/a.py", true), ("**/*.py", "a.py", true),
            ("docs/**", "docs/a/b.md", true), ("docs/**", "doc/a.md", false), ("a?.txt", "ab.txt", true),
        ]
        for (pattern, path, expected) in cases {
            #expect(TemplateEngineTestsGlobProbe.matches(pattern, path) == expected, "\(pattern) vs \(path)")
        }
    }
}

/// Globs are internal; test them through a rule's effect on a generated tree.
enum TemplateEngineTestsGlobProbe {
    static func matches(_ pattern: String, _ path: String) -> Bool {
        let template = try! makeTemplate(
            "name: t\nfiles:\n  - path: \"\(pattern)\"\n    when: \"project_name == never\"\n", files: [path: "x"])
        let result = try! generateFrom(template)
        return !listFiles(result.directory).contains(path)
    }
}

/// Keeps scratch folders alive until the process ends, and removes them then (objects still held
/// by a global are never deinitialised, so their folders would outlive every test run).
nonisolated(unsafe) private var kept: [TempProject] = []
private let keptLock = NSLock()
private let removeKeptAtExit: Void = {
    atexit {
        keptLock.withLock {
            for project in kept { try? FileManager.default.removeItem(atPath: project.path) }
        }
    }
}()

func keep(_ project: TempProject) -> TempProject {
    _ = removeKeptAtExit
    keptLock.withLock { kept.append(project) }
    return project
}
