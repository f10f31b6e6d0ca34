/// A release tag of a template (`v1.2.3` or `1.2.3`), ordered as semantic versions; pre-releases
/// (`v2.0.0-rc.1`) and other tags are not releases and are never picked by themselves.
public struct TemplateVersion: Comparable, Sendable {
    public let tag: String
    let numbers: [Int]

    public init?(tag: String) {
        let text = tag.hasPrefix("v") || tag.hasPrefix("V") ? tag.dropFirst() : Substring(tag)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber), let value = Int(part) else { return nil }
            numbers.append(value)
        }
        self.tag = tag
        self.numbers = numbers + Array(repeating: 0, count: 3 - numbers.count)
    }

    public static func < (lhs: TemplateVersion, rhs: TemplateVersion) -> Bool {
        // `v1.2` and `1.2.0` are the same release; the tag text breaks the tie so the order is total.
        lhs.numbers == rhs.numbers ? lhs.tag < rhs.tag : lhs.numbers.lexicographicallyPrecedes(rhs.numbers)
    }

    /// The newest release among `tags`, or nil when none is one.
    public static func newest(of tags: [String]) -> TemplateVersion? {
        tags.compactMap(TemplateVersion.init(tag:)).max()
    }
}
