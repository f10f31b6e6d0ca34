import DevhostManifest
import Foundation

/// A container's environment in Kubernetes terms.
struct ContainerEnv {
    /// Plain values, read through `envFrom` (no `$(VAR)` expansion happens there, so nothing is escaped).
    var configMap: [(String, String)] = []
    /// devhost's own variables, which win over everything as they do under `devhost up`, then values that
    /// read other variables with `$(VAR)` (Kubernetes expands those only in `env`).
    var env: [(String, String)] = []
    /// The ConfigMap, then the env files' Secrets: an env file's value replaces the manifest's default.
    var envFrom: [YAMLNode] = []
}

extension KubeExport {
    /// Secret generator names: the project's env file, and a service's own.
    static let projectSecret = "env-file"
    static func serviceSecret(_ name: String) -> String { "\(name)-env-file" }

    func containerEnv(_ service: Service, plan: Plan) throws -> ContainerEnv {
        let name = plan.names[service.name]!
        var result = ContainerEnv()
        if let port = plan.ports[service.name] {
            result.env.append(("PORT", String(port)))
            // In a container, loopback is private to the container: listen on every interface.
            result.env.append(("HOST", "0.0.0.0"))
        }
        result.env += [("DEVHOST_PROJECT", manifest.name), ("DEVHOST_SERVICE", service.name)]
        let fixed = Set(result.env.map(\.0))
        let reference = { (ref: Interpolation.ServiceReference) in plan.reference(ref, in: manifest) }
        for entry in ContainerText.mergedEnv(manifest.env, service.env) where !fixed.contains(entry.key) {
            let segments: [Interpolation.Segment]
            do {
                segments = try Interpolation.parse(entry.value)
            } catch {
                throw KubeError.badValue(path: "env.\(entry.key)", location: entry.location, reason: error.message)
            }
            if Self.readsVariables(segments) {
                result.env.append((entry.key, Self.value(segments, escaped: true, reference: reference)))
            } else {
                result.configMap.append((entry.key, Self.value(segments, escaped: false, reference: reference)))
            }
        }
        result.configMap.sort { $0.0 < $1.0 }
        if !result.configMap.isEmpty { result.envFrom.append(.map([("configMapRef", .map([("name", .string("\(name)-env"))]))])) }
        if manifest.envFile != nil { result.envFrom.append(.map([("secretRef", .map([("name", .string(Self.projectSecret))]))])) }
        if service.envFile != nil { result.envFrom.append(.map([("secretRef", .map([("name", .string(Self.serviceSecret(name)))]))])) }
        return result
    }

    /// Whether the value still reads a variable in the cluster: `${VAR}` and `${VAR:?…}` do (as `$(VAR)`);
    /// `${VAR:-default}` takes its default, since nothing in a cluster plays the developer's shell.
    static func readsVariables(_ segments: [Interpolation.Segment]) -> Bool {
        segments.contains { segment in
            switch segment {
            case .literal, .reference: return false
            case .variable(_, nil), .variable(_, .required?): return true
            case .variable(_, .ifUnset(let inner)?), .variable(_, .ifUnsetOrEmpty(let inner)?): return readsVariables(inner)
            }
        }
    }

    static func value(
        _ segments: [Interpolation.Segment], escaped: Bool, reference: (Interpolation.ServiceReference) -> String
    ) -> String {
        guard escaped else {
            return segments.map { segment in
                switch segment {
                case .literal(let text): return text
                case .reference(let ref): return reference(ref)
                case .variable(_, .ifUnset(let inner)?), .variable(_, .ifUnsetOrEmpty(let inner)?):
                    return value(inner, escaped: false, reference: reference)
                case .variable(let name, _): return "$(\(name))"
                }
            }.joined()
        }
        return ContainerText.text(segments, reference: reference) { name, fallback in
            switch fallback {
            case .ifUnset(let inner)?, .ifUnsetOrEmpty(let inner)?: return value(inner, escaped: true, reference: reference)
            case nil, .required?: return "$(\(name))"
            }
        }
    }

    /// The env files as kustomize Secret generators, each pointing at its file (never at its values).
    func secretGenerators(plan: Plan, directory: String) -> (YAMLNode?, [String]) {
        var generators: [YAMLNode] = []
        var warnings: [String] = []
        var files: [(String, String)] = []
        if let file = manifest.envFile { files.append((Self.projectSecret, file)) }
        for service in manifest.services {
            if let file = service.envFile { files.append((Self.serviceSecret(plan.names[service.name]!), file)) }
        }
        for (name, file) in files {
            let path = Self.relativePath(from: directory, to: file)
            generators.append(.map([("name", .string(name)), ("envs", .strings([path]))]))
            var warning =
                "\(Self.relativePath(from: manifest.directory, to: file)): its values reach the cluster as Secret \(name) through kustomize's secretGenerator, which reads the file when the folder is built; no value is written here. Keep the file out of git"
            if !FileManager.default.fileExists(atPath: file) { warning += "; it does not exist yet, and kustomize needs it" }
            warnings.append(warning)
        }
        return (generators.isEmpty ? nil : .list(generators), warnings)
    }

    /// `to` relative to the folder `from` (both absolute), with `..` where they part.
    static func relativePath(from directory: String, to path: String) -> String {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.pathComponents
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        var common = 0
        while common < base.count, common < target.count, base[common] == target[common] { common += 1 }
        let parts = Array(repeating: "..", count: base.count - common) + target[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
