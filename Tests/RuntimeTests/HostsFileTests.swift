import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// `devhost hosts sync` / `clean`: the block on its own (tables of odd files), then the real command
/// against temporary hosts files.
@Suite("hosts file: devhost's marked block and nothing else")
struct HostsFileTests {
    static let start = HostsFile.startMarker
    static let end = HostsFile.endMarker

    static func block(_ hosts: [String], _ newline: String = "\n", terminated: Bool = true) -> String {
        var lines = [start]
        for host in hosts { lines += ["127.0.0.1 \(host)", "::1 \(host)"] }
        lines.append(end)
        return lines.joined(separator: newline) + (terminated ? newline : "")
    }

    /// (name, original file, the file after `sync` with api.shop.localhost and blog.localhost).
    static let fixtures: [(String, String, String)] = [
        ("empty", "", block(["api.shop.localhost", "blog.localhost"])),
        (
            "plain", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n" + block(["api.shop.localhost", "blog.localhost"])
        ),
        (
            "CRLF", "127.0.0.1 localhost\r\n# a comment\r\n",
            "127.0.0.1 localhost\r\n# a comment\r\n" + block(["api.shop.localhost", "blog.localhost"], "\r\n")
        ),
        (
            "no final newline", "127.0.0.1 localhost\n10.0.0.1 nas",
            "127.0.0.1 localhost\n10.0.0.1 nas\n" + block(["api.shop.localhost", "blog.localhost"], terminated: false)
        ),
        (
            "CRLF, no final newline", "127.0.0.1 localhost\r\n10.0.0.1 nas",
            "127.0.0.1 localhost\r\n10.0.0.1 nas\r\n" + block(["api.shop.localhost", "blog.localhost"], "\r\n", terminated: false)
        ),
        (
            "a block in the middle is replaced where it stands", "a\n" + block(["old.localhost"]) + "\tb # tab\n\n",
            "a\n" + block(["api.shop.localhost", "blog.localhost"]) + "\tb # tab\n\n"
        ),
        (
            "an unterminated block at the end stays unterminated", "a\n" + block(["old.localhost"], terminated: false),
            "a\n" + block(["api.shop.localhost", "blog.localhost"], terminated: false)
        ),
        (
            "a CRLF block in an LF file keeps CRLF", "a\n" + block(["old.localhost"], "\r\n") + "b\n",
            "a\n" + block(["api.shop.localhost", "blog.localhost"], "\r\n") + "b\n"
        ),
        (
            "look-alike markers are foreign lines",
            " \(start)\n\(start) \n# >>> devhost >>>\n#\(end)\n\(end)x\n# managed by devhost hosts sync\n",
            " \(start)\n\(start) \n# >>> devhost >>>\n#\(end)\n\(end)x\n# managed by devhost hosts sync\n"
                + block(["api.shop.localhost", "blog.localhost"])
        ),
        (
            "blank lines and only whitespace", "\n\n   \n\t\n",
            "\n\n   \n\t\n" + block(["api.shop.localhost", "blog.localhost"])
        ),
    ]

    @Test("sync writes one block: appended, or replaced in place; line endings follow the file", arguments: 0..<fixtures.count)
    func syncFixtures(index: Int) throws {
        let (name, original, expected) = Self.fixtures[index]
        let synced = try HostsFile.sync(text: original, hosts: ["blog.localhost", "API.shop.localhost", "api.shop.localhost"])
        #expect(synced == expected, "\(name): \(synced.debugDescription)")
        // Idempotent: a second sync writes the same bytes.
        #expect(try HostsFile.sync(text: synced, hosts: ["api.shop.localhost", "blog.localhost"]) == synced, "\(name)")
        // Clean gives back the file as it was before the first sync, unless the fixture began with a block.
        let cleaned = try HostsFile.clean(text: synced)
        if try HostsFile.block(in: HostsFile.split(Array(original.utf8)), file: name) != nil {
            #expect(try HostsFile.block(in: HostsFile.split(Array(cleaned.utf8)), file: name) == nil, "\(name)")
            #expect(!cleaned.contains("old.localhost"), "\(name)")
        } else {
            #expect(cleaned == original, "\(name): \(cleaned.debugDescription)")
        }
        #expect(try HostsFile.clean(text: cleaned) == cleaned)
        #expect(try HostsFile.listed(text: synced) == ["api.shop.localhost", "blog.localhost"])
    }

    @Test("a block in the middle is removed with its lines only; an empty list leaves the markers")
    func cleanAndEmpty() throws {
        let around = "# top\r\n127.0.0.1 localhost\r\n"
        let withBlock = around + Self.block(["x.localhost"], "\r\n") + "10.1.1.1\tnas # after\r\n"
        #expect(try HostsFile.clean(text: withBlock) == around + "10.1.1.1\tnas # after\r\n")
        #expect(try HostsFile.sync(text: withBlock, hosts: []) == around + Self.block([], "\r\n") + "10.1.1.1\tnas # after\r\n")
        #expect(try HostsFile.clean(text: "no block\n") == "no block\n")
        #expect(try HostsFile.listed(text: "no block\n") == [])
    }

    @Test("bytes that are not UTF-8 outside the block come back unchanged")
    func notUTF8() throws {
        let original: [UInt8] = Array("# caf".utf8) + [0xE9, 0xFF] + Array(" latin-1\n127.0.0.1 localhost".utf8)
        let synced = try HostsFile.sync(bytes: original, hosts: ["a.localhost"])
        #expect(Array(synced.prefix(original.count)) == original)
        #expect(try HostsFile.clean(bytes: synced) == original)
    }

    /// (name, file, the line the error must name).
    static let malformed: [(String, String, String)] = [
        ("start without end", "a\n\(start)\n127.0.0.1 x.localhost\n", "hosts:2: the devhost start marker has no end marker"),
        ("end without start", "a\nb\n\(end)\n", "hosts:3: a devhost end marker without a start marker"),
        ("two blocks", block(["a.localhost"]) + "x\n" + block(["b.localhost"]), "hosts:6: a second devhost block (the first is lines 1-4)"),
        (
            "a start inside the block", "\(start)\n\(start)\n\(end)\n",
            "hosts:2: a second devhost start marker inside the block opened on line 1"
        ),
        ("CRLF start without end", "a\r\nb\r\n\(start)\r\n", "hosts:3: the devhost start marker has no end marker"),
    ]

    @Test("a broken block is refused with its line, by sync and by clean", arguments: 0..<malformed.count)
    func malformedBlocks(index: Int) {
        let (name, text, message) = Self.malformed[index]
        for attempt in [
            { try HostsFile.sync(text: text, hosts: ["a.localhost"], file: "hosts") }, { try HostsFile.clean(text: text, file: "hosts") },
        ] {
            do {
                let result = try attempt()
                Issue.record("\(name): accepted, gave \(result.debugDescription)")
            } catch let error as HostsFile.Problem {
                #expect(error.description.hasPrefix(message), "\(name): \(error)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    @Test("hosts that could break out of their line or are not DNS names are refused")
    func hostileHosts() {
        for host in [
            "evil.localhost\n1.2.3.4 bank.example", "a b.localhost", "#x.localhost", "", "a..localhost", "-a.localhost", "é.localhost",
            String(repeating: "a", count: 64) + ".localhost", Array(repeating: "abcdefghi", count: 26).joined(separator: "."),
        ] {
            #expect(throws: HostsFile.Problem.self, "\(host.debugDescription)") {
                try HostsFile.sync(text: "", hosts: ["ok.localhost", host])
            }
        }
    }

    @Test("a running project's hosts: its routes' hosts and its dashboard")
    func hostsOfAReport() throws {
        let json = """
            {"project":"shop","directory":"/p","pid":1,"started_at":"2026-01-01T00:00:00Z","ready":true,"ok":true,
             "proxy":{"bind":"127.0.0.1","port":7777,"domain":"localhost"},
             "services":[{"name":"api","routes":["http://api.shop.localhost:7777","http://www.shop.localhost:7777"],"instances":[]},
                         {"name":"worker","routes":[],"instances":[]}]}
            """
        let report = try StatusReport.decode(Data(json.utf8))
        #expect(HostsFile.hosts(in: report) == ["devhost.localhost", "api.shop.localhost", "www.shop.localhost"])
    }
}

/// The real `devhost hosts` command against temporary hosts files.
@Suite("devhost hosts sync/clean: the real command on a temporary hosts file")
struct HostsCommandTests {
    /// Everything a hosts file can hold that a careless rewrite would change: CRLF on one line,
    /// tabs, trailing spaces, a Latin-1 byte, a look-alike marker, and no final newline.
    static let original: [UInt8] =
        Array("# Static table lookup for hostnames.\n127.0.0.1\tlocalhost   \n::1     localhost ip6-localhost\r\n".utf8)
        + Array("# caf".utf8) + [0xE9] + Array("\n# >>> devhost >>>\n\n10.0.0.2\tnas.home # NAS".utf8)

    static func info(_ path: String) -> stat {
        var info = stat()
        stat(path, &info)
        return info
    }

    static func bytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

    /// A folder of its own (its listing shows any temporary file left behind) holding the hosts file.
    static func hostsFile(mode: mode_t = 0o640) throws -> (TempProject, String) {
        let folder = try TempProject()
        let path = folder.file("hosts")
        try Data(original).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return (folder, path)
    }

    @Test("sync and clean keep every foreign byte, replace the file by rename with its mode and owner, and are idempotent")
    func syncAndClean() throws {
        let (folder, path) = try Self.hostsFile()
        let before = Self.info(path)
        let sync = try run([devhostBinary, "hosts", "sync", "api.shop.localhost", "Blog.localhost", "--file", path])
        #expect(sync.status == 0 && sync.output.contains("lists api.shop.localhost blog.localhost"), "\(sync.output)")
        let synced = Self.bytes(path)
        #expect(synced == (try HostsFile.sync(bytes: Self.original, hosts: ["api.shop.localhost", "blog.localhost"])))
        #expect(Array(synced.prefix(Self.original.count)) == Self.original, "a foreign byte changed")
        #expect(String(decoding: synced, as: UTF8.self).contains("127.0.0.1 api.shop.localhost\n::1 api.shop.localhost\n"))
        let after = Self.info(path)
        #expect(after.st_ino != before.st_ino, "not replaced by a rename")
        #expect(after.st_mode & 0o7777 == 0o640 && after.st_uid == before.st_uid && after.st_gid == before.st_gid)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["hosts"])

        let again = try run([devhostBinary, "hosts", "sync", "blog.localhost", "api.shop.localhost", "--file", path])
        #expect(again.status == 0 && again.output.contains("already lists"), "\(again.output)")
        #expect(Self.bytes(path) == synced && Self.info(path).st_ino == after.st_ino, "an idempotent sync rewrote the file")

        let clean = try run([devhostBinary, "hosts", "clean", "--file", path])
        #expect(clean.status == 0 && clean.output.contains("removed devhost's block"), "\(clean.output)")
        #expect(Self.bytes(path) == Self.original)
        #expect(Self.info(path).st_mode & 0o7777 == 0o640)
        let cleanAgain = try run([devhostBinary, "hosts", "clean", "--file", path])
        #expect(cleanAgain.status == 0 && cleanAgain.output.contains("has no devhost block"), "\(cleanAgain.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["hosts"])
    }

    @Test("a hosts file that is a link: the file it points to is rewritten and the link stays")
    func symbolicLink() throws {
        let (folder, path) = try Self.hostsFile()
        let link = folder.file("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        let sync = try run([devhostBinary, "hosts", "sync", "a.localhost", "--file", link])
        #expect(sync.status == 0, "\(sync.output)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == path)
        #expect(try HostsFile.listed(text: String(decoding: Self.bytes(path), as: UTF8.self)) == ["a.localhost"])
    }

    @Test("a broken block or a hostile host: an error naming the line or host, and the file untouched")
    func refusals() throws {
        let (folder, path) = try Self.hostsFile()
        defer { withExtendedLifetime(folder) {} }
        let broken = Self.original + Array("\n\(HostsFile.startMarker)\n127.0.0.1 x.localhost\n".utf8)
        try Data(broken).write(to: URL(fileURLWithPath: path))
        let before = Self.info(path)
        for arguments in [["sync", "a.localhost"], ["clean"]] {
            let result = try run([devhostBinary, "hosts"] + arguments + ["--file", path])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("\(path):8: the devhost start marker has no end marker"), "\(result.output)")
        }
        let hostile = try run([devhostBinary, "hosts", "sync", "a.localhost\n6.6.6.6 bank.example", "--file", path])
        #expect(hostile.status == 1 && hostile.output.contains("cannot go in a hosts file"), "\(hostile.output)")
        #expect(Self.bytes(path) == broken && Self.info(path).st_ino == before.st_ino)
    }

    @Test("without permission: refused with the sudo command to run, nothing written or left behind")
    func notPermitted() throws {
        let (folder, path) = try Self.hostsFile(mode: 0o644)
        let command: [String]
        if getuid() == 0 {
            // Root owns the folder and the file (0755/0644): the unprivileged user can read, not write.
            chmod(folder.path, 0o755)
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", devhostBinary]
        } else {
            chmod(folder.path, 0o555)
            command = [devhostBinary]
        }
        defer { chmod(folder.path, 0o755) }
        for (subcommand, arguments) in [("sync", ["sync", "a.localhost"]), ("clean", ["clean"])] {
            if subcommand == "clean" {
                // Give clean a block to remove, so it must try to write.
                try Data(try HostsFile.sync(bytes: Self.original, hosts: ["a.localhost"])).write(to: URL(fileURLWithPath: path))
            }
            let before = Self.bytes(path)
            let result = try run(command + ["hosts"] + arguments + ["--file", path])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("error: cannot write \(path)"), "\(result.output)")
            #expect(result.output.contains("run `sudo devhost hosts \(subcommand) --file \(path)`"), "\(result.output)")
            #expect(Self.bytes(path) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["hosts"])
        }
    }

    @Test("without hosts given: the running project's routes and dashboard and the standalone routes; after down, only the routes")
    func runningProject() throws {
        let dev = try DevhostRun(twoReplicasAndAWorker(project: "shop"))
        defer { #expect(dev.shutDown().isEmpty) }
        let (folder, path) = try Self.hostsFile()
        defer { withExtendedLifetime(folder) {} }
        #expect(try dev.devhost(["route", "add", "nas", "8080"]).status == 0)
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let sync = try dev.devhost(["hosts", "sync", "--file", path])
        #expect(sync.status == 0, "\(sync.output)")
        let text = { String(decoding: Self.bytes(path), as: UTF8.self) }
        #expect(try HostsFile.listed(text: text()) == ["api.shop.localhost", "devhost.localhost", "nas.localhost"], "\(text())")

        #expect(try dev.devhost(["down"]).status == 0)
        let after = try dev.devhost(["hosts", "sync", "--file", path])
        #expect(after.status == 0, "\(after.output)")
        #expect(try HostsFile.listed(text: text()) == ["nas.localhost"], "\(text())")
        #expect(Array(Self.bytes(path).prefix(Self.original.count)) == Self.original)
    }
}
