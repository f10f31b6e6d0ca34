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

    /// Renders into `destination` (which exists) and returns the relative paths written.
    /// Plain POSIX calls throughout: FileManager's enumerator, URL resource values and per-file
    /// directory checks were a third of a whole `devhost init`.
    func render(into destination: URL) throws(InitError) -> [String] {
        let context = self.context
        let knownNames = Set(values.keys)
        let root = filesRoot.path
        let destinationPath = destination.path
        var madeFolders: Set<String> = [""]
        var written: [String] = []
        for entry in try Self.sourceFiles(root) {
            let relative = entry.path
            let rule = definition.rules.first { Glob.matches($0.pattern, relative) }
            if let condition = rule?.condition, !condition.holds(in: values) { continue }
            guard let target = try renderPath(relative, context: context) else { continue }
            let source = root + "/" + relative
            let output = destinationPath + "/" + target
            do {
                try Self.makeFolders(for: target, under: destinationPath, made: &madeFolders)
                if entry.isLink {
                    let link = try FileReader.linkTarget(source)
                    try checkLink(link, at: relative)
                    guard symlink(link, output) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                    written.append(target)
                    continue
                }
                let (bytes, executable) = try FileReader.contents(source)
                let mode: mode_t = executable ? 0o755 : 0o644
                if rule?.verbatim == true || Self.isBinary(bytes) {
                    try FileWriter.write(bytes, to: output, mode: mode)
                } else {
                    let text = String(decoding: bytes, as: UTF8.self)
                    try checkNames(in: text, file: relative, known: knownNames)
                    let rendered = text.utf8.contains(UInt8(ascii: "{")) ? try renderText(text, file: relative, context: context) : text
                    try FileWriter.write(rendered.utf8, to: output, mode: mode)
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

    struct SourceFile {
        var path: String
        var isLink: Bool
    }

    /// Every file under `root`, sorted, links included but not followed.
    static func sourceFiles(_ root: String) throws(InitError) -> [SourceFile] {
        var files: [SourceFile] = []
        var pending = [""]
        while let folder = pending.popLast() {
            guard let directory = opendir(folder.isEmpty ? root : root + "/" + folder) else {
                throw InitError.invalidTemplate("\(root)/\(folder) cannot be read")
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name == "." || name == ".." { continue }
                let relative = folder.isEmpty ? name : folder + "/" + name
                var kind = Int32(entry.pointee.d_type)
                if kind == Int32(DT_UNKNOWN) {
                    var info = stat()
                    guard lstat(root + "/" + relative, &info) == 0 else { continue }
                    kind = (info.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : (info.st_mode & S_IFMT) == S_IFLNK ? Int32(DT_LNK) : Int32(DT_REG)
                }
                if kind == Int32(DT_DIR) {
                    pending.append(relative)
                } else {
                    files.append(SourceFile(path: relative, isLink: kind == Int32(DT_LNK)))
                }
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Creates the folders `relative` needs below `root`, once each.
    private static func makeFolders(for relative: String, under root: String, made: inout Set<String>) throws {
        guard let slash = relative.lastIndex(of: "/") else { return }
        let folder = String(relative[..<slash])
        if made.contains(folder) { return }
        try makeFolders(for: folder, under: root, made: &made)
        if mkdir(root + "/" + folder, 0o755) != 0, errno != EEXIST { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        made.insert(folder)
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
    private func checkNames(in text: String, file: String, known: Set<String>) throws(InitError) {
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
            while cursor < bytes.count, Self.isNameByte(bytes[cursor]) { cursor += 1 }
            let name = String(decoding: bytes[start..<cursor], as: UTF8.self)
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
            let closed = cursor + 1 < bytes.count && bytes[cursor] == UInt8(ascii: "}") && bytes[cursor + 1] == UInt8(ascii: "}")
            if closed, let first = name.utf8.first, !(48...57).contains(first), !known.contains(name) {
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

    private static func isNameByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(8000).contains(0) || String(validating: bytes, as: UTF8.self) == nil
    }
}
