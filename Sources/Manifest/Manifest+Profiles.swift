/// Profiles as compose has them: `profiles: [remote]` on a service keeps it out of a run unless
/// `devhost up --profile remote` (or DEVHOST_PROFILES / COMPOSE_PROFILES) activates one of its profiles;
/// services without profiles always run. A team keeps a local and a remote variant of a dependency in
/// one manifest this way.
extension Manifest {
    /// Every profile some service names, sorted.
    public var profiles: [String] {
        Set(services.flatMap(\.profiles)).sorted()
    }

    /// Profiles from the environment, as compose reads COMPOSE_PROFILES: comma-separated; DEVHOST_PROFILES
    /// wins when both are set.
    public static func profiles(fromEnvironment environment: [String: String]) -> [String] {
        let text = environment["DEVHOST_PROFILES"] ?? environment["COMPOSE_PROFILES"] ?? ""
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The services a run with `active` profiles starts. A service named in `requested` runs whatever its
    /// profiles (compose does the same for services named on the command line). A running service that
    /// depends on one left out is an error at the dependency's position, as is an active profile that no
    /// service names (a typo would otherwise start the local variants silently).
    public func activating(profiles active: [String], requested: [String] = []) throws(ManifestError) -> Manifest {
        var issues: [ManifestIssue] = []
        let known = Set(profiles)
        for profile in active where !known.contains(profile) {
            let names = known.isEmpty ? "no service has profiles" : "profiles: \(profiles.joined(separator: ", "))"
            issues.append(ManifestIssue(path: "", message: "no service in \(file) has profile \"\(profile)\" (\(names))", at: nil))
        }
        let activeSet = Set(active)
        let kept = services.filter { service in
            service.profiles.isEmpty || requested.contains(service.name) || !activeSet.isDisjoint(with: service.profiles)
        }
        let keptNames = Set(kept.map(\.name))
        for service in kept {
            for dependency in service.dependsOn where !keptNames.contains(dependency.service) {
                guard let target = self.service(named: dependency.service) else { continue }
                let list = target.profiles.joined(separator: ", ")
                let flag = target.profiles.map { "--profile \($0)" }.joined(separator: " or ")
                issues.append(
                    ManifestIssue(
                        path: "services.\(service.name).depends_on.\(dependency.service)",
                        message:
                            "\"\(dependency.service)\" runs only with profile \(list), which is not active: add \(flag), or give \(service.name) the same profiles",
                        at: dependency.location ?? service.location))
            }
        }
        guard issues.isEmpty else { throw ManifestError(issues) }
        var copy = self
        copy.services = kept
        return copy
    }
}

extension ManifestDecoder {
    /// `profiles: [name, …]`: names as compose allows them.
    mutating func decodeProfiles(_ node: YAMLNode, _ path: String) -> [String] {
        guard let items = node.items else {
            reader.fail(path, "expected a list of profile names, found \(reader.describe(node))", at: node.location)
            return []
        }
        var names: [String] = []
        for (index, item) in items.enumerated() {
            guard let name = reader.nonEmptyString(item, "\(path)[\(index)]") else { continue }
            let alphanumeric: (Unicode.Scalar) -> Bool = { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) }
            let allowed = name.unicodeScalars.allSatisfy { alphanumeric($0) || "_.-".unicodeScalars.contains($0) }
            if !allowed || !alphanumeric(name.unicodeScalars.first!) {
                reader.fail(
                    "\(path)[\(index)]", "\"\(name)\" is not a profile name (letters, digits, _ . -, starting with a letter or digit)",
                    at: item.location)
            } else if !names.contains(name) {
                names.append(name)
            }
        }
        return names
    }
}
