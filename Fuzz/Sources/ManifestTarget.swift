import DevhostManifest

/// The input as the text of a `devhost.yml`, through `ManifestLoader.load(text:)`: YAML, decoding
/// and validation. Loading ends in a manifest or in errors, never in a crash, and every error
/// carries the position a user needs to find it: a line and column inside the text. Loading the
/// same text twice gives the same answer (nothing depends on state left by an earlier load).
enum ManifestTarget {
    static let loader = ManifestLoader(environment: [:])
    static let file = "devhost.yml"

    static func run(_ data: [UInt8]) -> Int32 {
        // A manifest that is not UTF-8 is refused before it is parsed (ManifestLoader.read).
        guard let text = String(validating: data, as: UTF8.self) else { return -1 }
        let first = load(text)
        check(first == load(text), "the same text loaded twice gave different answers")
        return 0
    }

    static func load(_ text: String) -> String {
        // Lines as YAML counts them: LF, CR, CRLF, NEL, LS and PS all end one.
        var breaks = 0
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            if ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar), !(scalar == "\n" && previous == "\r") { breaks += 1 }
            previous = scalar
        }
        let lastLine = breaks + 1
        do {
            let manifest = try loader.load(text: text, file: file, directory: "/devhost-fuzz/project")
            check(!manifest.services.isEmpty, "a manifest without services loaded")
            for warning in manifest.warnings { checkPosition(warning, lastLine: lastLine) }
            _ = manifest.startOrder
            return "\(manifest.json)"
        } catch {
            check(!error.issues.isEmpty, "a ManifestError without issues")
            for issue in error.issues { checkPosition(issue, lastLine: lastLine) }
            return error.description
        }
    }

    static func checkPosition(_ issue: ManifestIssue, lastLine: Int) {
        guard let location = issue.location else { return check(false, "a manifest issue without a position: \(issue)") }
        check(location.file == file || location.file.hasSuffix("/" + file), "a position in another file: \(issue)")
        check(location.line >= 1 && location.line <= lastLine + 1 && location.column >= 1, "a position outside the text (\(lastLine) lines): \(issue)")
    }
}
