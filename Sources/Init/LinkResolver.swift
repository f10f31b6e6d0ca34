import Foundation

/// Where a symbolic link below a folder really leads: its target taken from the link's own folder and
/// followed through the other links it meets, never above the folder. Counting the `..` in the link's
/// text passed `s -> d/d/d/../../..` beside `d -> .`, which climbs three folders out.
enum LinkResolver {
    enum Outcome: Equatable {
        /// The path below the folder the link leads to (it need not exist).
        case inside(String)
        case outside
        case loop
    }

    /// As many links as Linux follows in one path (SYMLOOP_MAX).
    static let maxLinks = 40

    /// Resolves the link at `relative` below `root`. A name that does not exist is taken as written.
    static func resolve(_ relative: String, in root: String) -> Outcome {
        var resolved = Array(relative.split(separator: "/").dropLast())
        guard let target = try? FileReader.linkTarget(root + "/" + relative), !target.hasPrefix("/") else { return .outside }
        var pending = Array(target.split(separator: "/").reversed())
        var followed = 1
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                if resolved.isEmpty { return .outside }
                resolved.removeLast()
                continue
            }
            resolved.append(part)
            let path = root + "/" + resolved.joined(separator: "/")
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { continue }
            followed += 1
            if followed > maxLinks { return .loop }
            guard let next = try? FileReader.linkTarget(path), !next.hasPrefix("/") else { return .outside }
            resolved.removeLast()
            pending += next.split(separator: "/").reversed()
        }
        return .inside(resolved.joined(separator: "/"))
    }
}
