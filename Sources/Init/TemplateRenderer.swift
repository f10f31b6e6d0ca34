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
        var links: [(source: String, target: String)] = []
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
                    try Self.checkLink(relative, in: root, shownAs: relative, leaving: "the template")
                    guard symlink(link, output) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                    links.append((relative, target))
                    written.append(target)
                    continue
                }
                let (bytes, executable) = try FileReader.contents(source)
                let mode: mode_t = executable ? 0o755 : 0o644
                if rule?.verbatim == true || Self.isBinary(bytes) {
                    try FileWriter.write(bytes, to: output, mode: mode, fresh: true)
                } else {
                    let text = String(decoding: bytes, as: UTF8.self)
                    try checkNames(in: text, file: relative, known: knownNames)
                    let rendered = text.utf8.contains(UInt8(ascii: "{")) ? try renderText(text, file: relative, context: context) : text
                    try FileWriter.write(rendered.utf8, to: output, mode: mode, fresh: true)
                }
            } catch let error as InitError {
                throw error
            } catch {
                throw InitError.io("cannot write \(target): \(error.localizedDescription)")
            }
            written.append(target)
        }
        // Rendered names can pair links differently than the template's own names did (`{{x}}` -> .
        // and `q -> s/..` with x=s), so every link is checked again where it now stands.
        for link in links {
            try Self.checkLink(
                link.target, in: destinationPath, shownAs: "\(link.source) (rendered as \(link.target))", leaving: "the project")
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
                    kind =
                        (info.st_mode & S_IFMT) == S_IFDIR
                        ? Int32(DT_DIR) : (info.st_mode & S_IFMT) == S_IFLNK ? Int32(DT_LNK) : Int32(DT_REG)
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
        if mkdir(root + "/" + folder, 0o755) != 0 {
            guard errno == EEXIST else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            // Only a template link is there before a folder is made: writing through it could land anywhere.
            var info = stat()
            guard lstat(root + "/" + folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw InitError.unsafePath(
                    "\(relative) would be written through \(folder), which the template makes a link; files are never written through links"
                )
            }
        }
        made.insert(folder)
    }

    /// Renders each path segment; an empty segment drops the file (a folder named `{{#flag}}x{{/flag}}`).
    private func renderPath(_ relative: String, context: [String: Any]) throws(InitError) -> String? {
        var segments: [String] = []
        for segment in relative.split(separator: "/") {
            if segment.contains("{{") {
                // `{{=<% %>=}}` would hide the tags after it from the check below.
                if TagScanner.changesDelimiters(String(segment)) {
                    throw InitError.render(
                        file: relative,
                        message:
                            "the name \"\(segment)\" changes the tag delimiters ({{=…=}}); file and folder names may use only {{name}} tags"
                    )
                }
                try checkNames(in: String(segment), file: relative, known: Set(values.keys))
            }
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

    private func checkNames(in text: String, file: String, known: Set<String>) throws(InitError) {
        if let tag = TagScanner.undeclared(in: text, known: known) {
            throw InitError.render(file: file, message: "it uses \(tag), which the template does not declare")
        }
    }

    /// A link may lead only within `root` (the template's files, then the generated project), however
    /// it gets there; anything else could write or read outside the project.
    private static func checkLink(_ relative: String, in root: String, shownAs name: String, leaving place: String) throws(InitError) {
        let text = (try? FileReader.linkTarget(root + "/" + relative)) ?? "?"
        switch LinkResolver.resolve(relative, in: root) {
        case .inside: return
        case .outside:
            throw InitError.unsafePath(
                "\(name) links outside \(place) (\(text), followed from its folder through the other links); remove the link or point it inside"
            )
        case .loop: throw InitError.unsafePath("\(name) is a link that goes round in a loop (\(text)); remove it")
        }
    }

    static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(8000).contains(0) || String(validating: bytes, as: UTF8.self) == nil
    }
}
