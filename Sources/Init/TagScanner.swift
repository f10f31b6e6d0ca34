/// Finds the Mustache tags of a template text that name variables the template does not declare:
/// Mustache renders those as nothing, so a typo would ship a blank. A hand-written scan (this runs on
/// every file, and regex set-up dominated start-up) that follows the tag syntax the renderer does:
/// `{{=<% %>=}}` delimiter changes, `{{{name}}}`, sections, and dotted names (checked by their first part).
enum TagScanner {
    /// The first undeclared name, written as the template wrote the tag.
    static func undeclared(in text: String, known: Set<String>) -> String? {
        let bytes = Array(text.utf8)
        var open = Array("{{".utf8)
        var close = Array("}}".utf8)
        var index = 0
        while let start = find(open, in: bytes, from: index) {
            guard let end = find(close, in: bytes, from: start + open.count) else { return nil }
            var content = trimmed(bytes[(start + open.count)..<end])
            index = end + close.count
            guard let sigil = content.first else { continue }
            switch sigil {
            case UInt8(ascii: "!"), UInt8(ascii: ">"):
                continue
            case UInt8(ascii: "="):
                // `{{=<% %>=}}`: the new delimiters, separated by spaces, between two `=`.
                guard content.count > 2, content.last == UInt8(ascii: "=") else { continue }
                let parts = content.dropFirst().dropLast().split(separator: UInt8(ascii: " "))
                if parts.count == 2 {
                    open = Array(parts[0])
                    close = Array(parts[1])
                }
                continue
            case UInt8(ascii: "{"):
                // `{{{name}}}`: the third brace closes after the delimiter.
                content = trimmed(content.dropFirst())
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1 }
            case UInt8(ascii: "#"), UInt8(ascii: "^"), UInt8(ascii: "/"), UInt8(ascii: "&"):
                content = trimmed(content.dropFirst())
            default:
                break
            }
            // Only plain names and dotted paths; anything else is not a variable lookup.
            guard let first = content.first, content.allSatisfy({ isNameByte($0) || $0 == UInt8(ascii: ".") }) else { continue }
            if first == UInt8(ascii: ".") || (48...57).contains(first) { continue }
            let name = String(decoding: content.prefix { $0 != UInt8(ascii: ".") }, as: UTF8.self)
            if !known.contains(name) {
                let written = trimmed(bytes[(start + open.count)..<end])
                return String(decoding: open + written + close, as: UTF8.self)
            }
        }
        return nil
    }

    /// Whether `text` changes the tag delimiters anywhere.
    static func changesDelimiters(_ text: String) -> Bool {
        text.contains("{{=")
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, start + needle.count <= bytes.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == first, bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func trimmed(_ slice: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = slice
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice = slice.dropFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice = slice.dropLast() }
        return slice
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }
}
