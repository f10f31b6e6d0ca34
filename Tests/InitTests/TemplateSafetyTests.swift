import DevhostInit
import DevhostTestSupport
import Foundation
import Testing

/// Templates written to escape the project: links through links, names that render into links, and
/// tags hidden from the undeclared-variable check.
@Suite struct TemplateSafetyTests {
    /// Every file named `name` below `root`, links not followed.
    static func found(_ name: String, below root: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var paths: [String] = []
        while let path = enumerator.nextObject() as? String {
            if (path as NSString).lastPathComponent == name { paths.append(path) }
        }
        return paths
    }

    /// Generates into `sandbox/a/b/c/proj`, so a write three folders above the staging folder still
    /// lands inside the sandbox, where the test can look for it.
    static func generateDeep(_ template: TempProject, sets: [String: String], sandbox: TempProject) throws -> ProjectGenerator.Result {
        let parent = sandbox.file("a/b/c")
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        return try ProjectGenerator(source: .folder(template.path)).generate(
            .init(target: parent + "/proj", projectName: "proj", sets: sets, useDefaults: true, git: false))
    }

    @Test func aLinkThroughAnotherLinkCannotLeaveTheTemplate() throws {
        // The issue's shape: `s -> d/d/d/../../..` has as many `..` as names, but each `d` is `.`.
        let template = try makeTemplate("name: t\nvariables:\n  dirname: { default: x }\n", files: ["{{dirname}}/pwned.txt": "pwned\n"])
        try FileManager.default.createSymbolicLink(atPath: template.file("files/d"), withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: template.file("files/s"), withDestinationPath: "d/d/d/../../..")
        let sandbox = try TempProject()
        do {
            _ = try Self.generateDeep(template, sets: ["dirname": "s"], sandbox: sandbox)
            Issue.record("init followed s out of the project")
        } catch {
            #expect(String(describing: error).contains("s links outside the template (d/d/d/../../.."), "\(error)")
        }
        #expect(Self.found("pwned.txt", below: sandbox.path).isEmpty, "written outside: \(Self.found("pwned.txt", below: sandbox.path))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.file("a/b/c")).isEmpty)
    }

    @Test func aFileIsNeverWrittenThroughALinkEvenOneThatRenderedNamesMadeEscape() throws {
        // In the template `s` does not exist, so `q -> s/..` stays inside; rendered, `{{x}}` becomes
        // s -> . and q leads out of the project.
        let template = try makeTemplate(
            "name: t\nvariables:\n  x: { default: s }\n  y: { default: q }\n", files: ["{{y}}/pwned.txt": "pwned\n"])
        try FileManager.default.createSymbolicLink(atPath: template.file("files/{{x}}"), withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: template.file("files/q"), withDestinationPath: "s/..")
        let sandbox = try TempProject()
        do {
            _ = try Self.generateDeep(template, sets: [:], sandbox: sandbox)
            Issue.record("init wrote through a link")
        } catch {
            #expect(String(describing: error).contains("never written through links"), "\(error)")
        }
        #expect(Self.found("pwned.txt", below: sandbox.path).isEmpty, "written outside: \(Self.found("pwned.txt", below: sandbox.path))")

        // Without a file to write, the generated project would still have kept q.
        try FileManager.default.removeItem(atPath: template.file("files/{{y}}"))
        do {
            _ = try Self.generateDeep(template, sets: [:], sandbox: sandbox)
            Issue.record("the project kept a link out of it")
        } catch {
            #expect(String(describing: error).contains("q (rendered as q) links outside the project"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.file("a/b/c")).isEmpty)
    }

    @Test func linksThatStayInsideAreKept() throws {
        let template = try makeTemplate("name: t\n", files: ["docs/guide.md": "guide\n", "sub/keep.txt": "x\n"])
        try FileManager.default.createSymbolicLink(atPath: template.file("files/sub/guide.md"), withDestinationPath: "../docs/guide.md")
        try FileManager.default.createSymbolicLink(atPath: template.file("files/here"), withDestinationPath: ".")
        let result = try generateFrom(template)
        #expect(try String(contentsOfFile: result.directory + "/sub/guide.md", encoding: .utf8) == "guide\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: result.directory + "/here") == ".")
    }

    @Test func aNameThatChangesTheDelimitersIsRefused() throws {
        let template = try makeTemplate("name: t\n", files: ["{{=<% %>=}}<%undeclared%>.txt": "x\n"])
        do {
            let result = try generateFrom(template)
            Issue.record("rendered as \(listFiles(result.directory))")
        } catch {
            #expect(String(describing: error).contains("changes the tag delimiters"), "\(error)")
        }
    }

    @Test(arguments: [
        ("{{projct}}.txt", "x\n", "{{projct}}"),
        ("a.txt", "{{=<% %>=}}hello <%projct%>\n", "<%projct%>"),
        ("b.txt", "{{{projct}}}\n", "{{{projct}}"),
        ("c.txt", "{{#projct.items}}x{{/projct.items}}\n", "{{#projct.items}}"),
    ])
    func undeclaredTagsAreFoundWhereverTheyHide(_ name: String, _ content: String, _ tag: String) throws {
        let template = try makeTemplate("name: t\n", files: [name: content])
        do {
            let result = try generateFrom(template)
            Issue.record("rendered silently: \(listFiles(result.directory))")
        } catch {
            #expect(String(describing: error).contains("it uses \(tag), which the template does not declare"), "\(error)")
        }
    }

    @Test func declaredTagsAfterADelimiterChangeStillRender() throws {
        let template = try makeTemplate("name: t\n", files: ["a.txt": "{{=<% %>=}}<%project_name%> {{kept}}\n"])
        let result = try generateFrom(template, name: "demo")
        #expect(try String(contentsOfFile: result.directory + "/a.txt", encoding: .utf8) == "demo {{kept}}\n")
    }
}
