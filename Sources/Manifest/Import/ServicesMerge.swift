/// Adds services to a devhost.yml's text without touching anything else in it (comments, order, other
/// services): new ones go at the end of the `services:` block, and with `force` a service of the same
/// name is replaced where it stands.
public enum ServicesMerge {
    public static func merge(
        _ services: [(name: String, yaml: String)], into text: String, file: String, force: Bool
    ) throws(ManifestError) -> String {
        guard let root = try YAMLNode.parse(text, file: file), let entries = root.entries,
            let index = entries.firstIndex(where: { $0.key == "services" })
        else {
            let body = "services:\n" + services.map(\.yaml).joined(separator: "\n")
            return text.isEmpty || text.hasSuffix("\n") ? text + body : text + "\n" + body
        }
        let servicesEntry = entries[index]
        // A flow mapping (`services: {a: …}`) or an empty value cannot take lines of block YAML.
        guard let existing = servicesEntry.value.entries, servicesEntry.value.location.line > servicesEntry.keyLocation.line else {
            throw ManifestError([
                ManifestIssue(
                    path: "services", message: "is not a block mapping devhost can add to; add the services by hand (--stdout prints them)",
                    at: servicesEntry.value.location)
            ])
        }
        let clashes = services.filter { service in existing.contains { $0.key == service.name } }
        if !force, !clashes.isEmpty {
            throw ManifestError(
                clashes.map { clash in
                    ManifestIssue(
                        path: "services.\(clash.name)", message: "already exists; --force replaces it",
                        at: existing.first { $0.key == clash.name }?.keyLocation)
                })
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        // The block ends before the next top-level key (or at the end of the file), trailing blank lines excluded.
        var end = index + 1 < entries.count ? entries[index + 1].keyLocation.line - 1 : lines.count
        while end > servicesEntry.keyLocation.line, lines[end - 1].trimmingCharacters(in: .whitespaces).isEmpty { end -= 1 }
        let indent = existing.first.map { $0.keyLocation.column - 1 } ?? 2
        func indented(_ yaml: String) -> [String] {
            let extra = String(repeating: " ", count: max(0, indent - 2))
            return yaml.split(separator: "\n").map { extra + $0 }
        }
        // Replace from the bottom up so earlier line numbers stay valid.
        let replaced = clashes.compactMap { clash in existing.firstIndex { $0.key == clash.name }.map { ($0, clash) } }.sorted {
            $0.0 > $1.0
        }
        for (position, clash) in replaced {
            let first = existing[position].keyLocation.line - 1
            var last = position + 1 < existing.count ? existing[position + 1].keyLocation.line - 1 : end
            // A comment line just above the next service belongs to it.
            while last > first + 1, lines[last - 1].trimmingCharacters(in: .whitespaces).hasPrefix("#") { last -= 1 }
            lines.replaceSubrange(first..<last, with: indented(clash.yaml))
            end += indented(clash.yaml).count - (last - first)
        }
        let added = services.filter { service in !clashes.contains { $0.name == service.name } }
        lines.insert(contentsOf: added.flatMap { indented($0.yaml) }, at: end)
        return lines.joined(separator: "\n") + "\n"
    }
}
