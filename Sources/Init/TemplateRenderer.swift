import DevhostManifest
import Foundation
import Mustache

/// Renders a template's `files/` tree into a folder: names and text through Mustache, binaries and
/// `verbatim` files byte for byte, nothing outside the destination.
struct TemplateRenderer {
    let definition: TemplateDefinition
    let filesRoot: URL
    let values: [String: String]

    /// Mustache sees bool variables as real booleans, so `{{#flag}}` sections behave.
    private var context: [String: Any] {
        var context: [String: Any] = [:]
        let bools = Set(definition.variables.filter { $0.kind == .bool }.map(\.name))
        for (key, value) in values { context[key] = bools.contains(key) ? (value == "true") : value }
        return context
    }

    /// Names a file may use in `{{…}}`; anything else is a typo that would silently render empty.
    private var knownNames: Set<String> {
        Set(values.keys)
    }

    /// Renders into `destination` (which exists) and returns the relative paths written.
    func render(into destination: URL) throws(InitError) -> [String] {
        let context = self.context
        var written: [String] = []
        for relative in try sourceFiles() {
            let rule = definition.rules.first { Glob.matches($0.pattern, relative) }
            if let condition = rule?.condition, !condition.holds(in: values) { continue }
            guard let target = try renderPath(relative, context: context) else { continue }
            let source = filesRoot.appendingPathComponent(relative)
            let output = destination.appendingPathComponent(target)
            do {
                try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
                if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: source.path) {
                    try checkLink(link, at: relative)
                    try FileManager.default.createSymbolicLink(atPath: output.path, withDestinationPath: link)
                    written.append(target)
                    continue
                }
                let data = try Data(contentsOf: source)
                var info = stat()
                stat(source.path, &info)
                let mode: mode_t = info.st_mode & 0o111 != 0 ? 0o755 : 0o644
                if rule?.verbatim == true || Self.isBinary(data) {
                    try FileWriter.write(data, to: output.path, mode: mode)
                } else {
                    let text = String(decoding: data, as: UTF8.self)
                    try checkNames(in: text, file: relative)
                    try FileWriter.write(renderText(text, file: relative, context: context).utf8, to: output.path, mode: mode)
                }
            } catch let error as InitError {
                throw error
            } catch {
                throw InitError.io("cannot write \(target): \(error.localizedDescription)")
            }
            written.append(target)
        }
        return written
    }

    /// Every file under `files/`, sorted, links included but not followed.
    private func sourceFiles() throws(InitError) -> [String] {
        guard let enumerator = FileManager.default.enumerator(at: filesRoot, includingPropertiesForKeys: [.isDirectoryKey, .isSymbolicLinkKey], options: [])
        else {
            throw InitError.invalidTemplate("\(filesRoot.path) cannot be read")
        }
        var files: [String] = []
        let rootLength = filesRoot.standardizedFileURL.path.count + 1
        for case let url as URL in enumerator {
            let values = try? url.resourceValues(forKeys: [.isDirectoryKey, .isSymbolicLinkKey])
            if values?.isDirectory == true, values?.isSymbolicLink != true { continue }
            files.append(String(url.standardizedFileURL.path.dropFirst(rootLength)))
        }
        return files.sorted()
    }

    /// Renders each path segment; an empty segment drops the file (a folder named `{{#flag}}x{{/flag}}`).
    private func renderPath(_ relative: String, context: [String: Any]) throws(InitError) -> String? {
        var segments: [String] = []
        for segment in relative.split(separator: "/") {
            let rendered = segment.contains("{{") ? try renderText(String(segment), file: relative, context: context) : String(segment)
            if rendered.isEmpty { return nil }
            if rendered == ".." || rendered == "." || rendered.contains("/") || rendered.contains("\0") {
                throw InitError.unsafePath("\(relative) renders to \"\(rendered)\"")
            }
            segments.append(rendered)
        }
        return segments.joined(separator: "/")
    }

    private func renderText(_ text: String, file: String, context: [String: Any]) throws(InitError) -> String {
        do {
            // TEXT: generated code must not be HTML-escaped (`&`, `<`, quotes).
            let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
            return template.render(context)
        } catch {
            throw InitError.render(file: file, message: "\(error)")
        }
    }

    /// Finds `{{name}}`, `{{#name}}`, `{{^name}}`, `{{/name}}`, `{{&name}}` tags naming undeclared
    /// variables. A hand-written scan: this runs on every file, and regex set-up dominated start-up.
    private func checkNames(in text: String, file: String) throws(InitError) {
        let bytes = Array(text.utf8)
        var index = 0
        while index + 1 < bytes.count {
            guard bytes[index] == UInt8(ascii: "{"), bytes[index + 1] == UInt8(ascii: "{") else {
                index += 1
                continue
            }
            var cursor = index + 2
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            if cursor < bytes.count, "#^/&".utf8.contains(bytes[cursor]) { cursor += 1 }
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            let start = cursor
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: "_") || (bytes[cursor] < 128 && (Character(UnicodeScalar(bytes[cursor])).isLetter || Character(UnicodeScalar(bytes[cursor])).isNumber)) {
                cursor += 1
            }
            let name = String(decoding: bytes[start..<cursor], as: UTF8.self)
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            let closed = cursor + 1 < bytes.count && bytes[cursor] == UInt8(ascii: "}") && bytes[cursor + 1] == UInt8(ascii: "}")
            if closed, let first = name.first, first.isLetter || first == "_", !knownNames.contains(name) {
                throw InitError.render(file: file, message: "it uses {{\(name)}}, which the template does not declare")
            }
            index = cursor
        }
    }

    /// A link may point within the template only; anything else could write or read outside the project.
    private func checkLink(_ destination: String, at relative: String) throws(InitError) {
        if destination.hasPrefix("/") { throw InitError.unsafePath("\(relative) is a link to an absolute path (\(destination))") }
        var depth = relative.split(separator: "/").count - 1
        for part in destination.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { throw InitError.unsafePath("\(relative) links outside the template (\(destination))") }
        }
    }

    static func isBinary(_ data: Data) -> Bool {
        data.prefix(8000).contains(0) || String(data: data, encoding: .utf8) == nil
    }
}
