import DevhostInit
import DevhostTestSupport
import Foundation
import Testing

let builtInCatalog = TemplateCatalog(root: repositoryRoot.appendingPathComponent("templates").path)

/// Generates a built-in template into a fresh temporary folder.
func generate(_ template: String, name: String = "demo-app", sets: [String: String] = [:], git: Bool = true) throws -> (
    TempProject, ProjectGenerator.Result
) {
    let parent = try TempProject()
    let source = try TemplateSource.resolve(template, ref: nil, catalog: builtInCatalog)
    let result = try ProjectGenerator(source: source).generate(
        .init(target: parent.path + "/" + name, projectName: name, sets: sets, useDefaults: true, git: git))
    return (parent, result)
}

/// Every file below `directory` (relative paths), `.git` excluded.
func listFiles(_ directory: String) -> [String] {
    let root = URL(fileURLWithPath: directory).standardizedFileURL.path
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
    var files: [String] = []
    while let path = enumerator.nextObject() as? String {
        if path == ".git" || path.hasPrefix(".git/") { continue }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(path)
        }
    }
    return files.sorted()
}
