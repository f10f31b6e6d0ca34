import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// The Kubernetes version every generated object is validated against (kubernetes-validate's schemas).
let kubernetesSchemaVersion = "1.32.0"

/// Every YAML document of a text, as plain values; comment-only documents dropped.
func kubeDocuments(_ yaml: String) throws -> [[String: Any]] {
    try Yams.load_all(yaml: yaml).compactMap { $0 as? [String: Any] }
}

/// A document as canonical JSON, so objects compare by meaning, not layout.
func canonicalObject(_ object: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

/// `kind/name` → object, over every document of the given texts.
func kubeObjects(_ texts: [String]) throws -> [String: [String: Any]] {
    var objects: [String: [String: Any]] = [:]
    for text in texts {
        for document in try kubeDocuments(text) {
            let kind = document["kind"] as? String ?? "?"
            let name = (document["metadata"] as? [String: Any])?["name"] as? String ?? kind
            objects["\(kind)/\(name)"] = document
        }
    }
    return objects
}

/// Builds the folder with the real `kubectl kustomize` (no cluster is needed for that) and returns the
/// YAML stream; env files live outside the folder, which kustomize only reads without its load restrictor.
func kustomize(_ folder: String) throws -> String {
    let help = try run(["kubectl", "kustomize", "--help"])
    #expect(help.status == 0, "kubectl kustomize is missing: scripts/install-deps.sh test installs kubectl")
    var argv = ["kubectl", "kustomize"]
    if try String(contentsOfFile: folder + "/kustomization.yaml", encoding: .utf8).contains("secretGenerator:") {
        try #require(help.output.contains("--load-restrictor"), "this kubectl's kustomize cannot read env files outside the folder")
        argv += ["--load-restrictor", "LoadRestrictionsNone"]
    }
    let built = try run(argv + [folder])
    try #require(built.status == 0, "kubectl kustomize \(folder): \(built.output)")
    return built.output
}

/// Validates every document of a stream against the Kubernetes schemas, strictly (unknown fields fail).
func validateKubernetes(_ stream: String, label: String) throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID().uuidString.prefix(8)).yaml").path
    try stream.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let result = try run(["kubernetes-validate", "--strict", "--kubernetes-version", kubernetesSchemaVersion, file])
    #expect(result.status == 0, "\(label): kubernetes-validate: \(result.output)")
    let documents = try kubeDocuments(stream)
    #expect(!documents.isEmpty, "\(label): kustomize built nothing")
    // kubernetes-validate says "passed for resource" once per document it checked: all of them, nothing skipped.
    let valid = result.output.components(separatedBy: "\n").filter { $0.contains(" passed for resource ") }.count
    #expect(valid == documents.count, "\(label): \(valid) of \(documents.count) documents validated:\n\(result.output)")
}

/// Writes the folder, builds it with kustomize and validates what it builds.
@discardableResult
func writeBuildAndValidate(_ manifest: Manifest, options: KubeOptions = KubeOptions(), label: String) throws -> (
    folder: KubeFolder, built: String
) {
    let folder = KubeFolder(export: try KubeExport(manifest: manifest, options: options))
    try folder.write(force: false)
    let built = try kustomize(folder.path)
    try validateKubernetes(built, label: label)
    return (folder, built)
}
