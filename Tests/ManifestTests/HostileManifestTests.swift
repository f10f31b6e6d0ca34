import DevhostManifest
import Foundation
import Testing

/// Manifests written to hurt: alias bombs, huge files, huge mappings. Each must fail fast with an error
/// that says where, or load in bounded memory.
@Suite struct HostileManifestTests {
    /// `x-a: &a [x, x, …]`, then each level `width` aliases of the one before: `width^levels` leaves.
    static func aliasBomb(levels: Int, width: Int) -> String {
        let names = (0..<levels).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
        var lines = ["services: { api: { command: x } }"]
        lines.append("x-a: &a [" + Array(repeating: "\"x\"", count: width).joined(separator: ", ") + "]")
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("x-\(name): &\(name) [" + Array(repeating: "*\(previous)", count: width).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func anAliasBombIsRefusedAtTheAliasThatCrossesTheBudget() throws {
        // Six levels of ten: 1.1 million nodes expanded, from 400 bytes. The document holds 123,480 nodes
        // when line 7 starts; each *e adds 111,111, so the eighth (column 38) crosses the million.
        let found = try issues(Self.aliasBomb(levels: 6, width: 10))
        let issue = try #require(found.first { $0.message.contains("alias *e") }, "got: \(found)")
        #expect(issue.message.contains("past 1000000"), "\(issue)")
        #expect(issue.description.hasSuffix("(devhost.yml:7:38)"), "\(issue)")
    }

    @Test func theBillionLaughsFailsWithoutExpandingAnything() throws {
        // Nine levels of nine: 387 million nodes; this grew devhost past 1 GB before it was counted.
        let found = try issues(Self.aliasBomb(levels: 9, width: 9))
        #expect(found.count == 1)
        #expect(found.first?.message.contains("billion laughs") == true, "\(found)")
    }

    @Test func aliasesWithinTheBudgetStillWork() throws {
        let manifest = try load(
            """
            x-base: &base { command: x, env: { A: "1" } }
            x-name: &k api
            services:
              *k : *base
              web: *base
            """)
        #expect(manifest.services.map(\.name).sorted() == ["api", "web"])
        #expect(manifest.services.allSatisfy { $0.env.first?.value == "1" })
    }

    @Test func anAliasBeforeItsAnchorIsNamedWhereItIsWritten() throws {
        let found = try issues("services: { api: { command: *nowhere } }\n")
        #expect(found.first?.message.contains("*nowhere") == true, "\(found)")
        #expect(found.first?.location?.column == 29)
    }

    @Test func duplicateKeysNameBothPositionsAmongAHundredThousand() throws {
        // 100,000 keys: checking each against all the keys before it took 600 s in a debug build
        // (17.6 s in release); a dictionary of seen keys makes it linear.
        var yaml = "services: { api: { command: x } }\nx-big:\n"
        for index in 0..<100_000 { yaml += "  k\(index): v\n" }
        yaml += "  k7: again\n"
        let found = try issues(yaml)
        #expect(found.count == 1)
        let issue = try #require(found.first)
        #expect(issue.message.contains("duplicate key \"k7\" (again on line 100003, column 3)"), "\(issue)")
        #expect(issue.location?.line == 10)

        yaml.removeLast("  k7: again\n".utf8.count)
        let manifest = try load(yaml)
        #expect(manifest.services.count == 1)
    }

    @Test func aManifestPastTheSizeCapIsRefusedByName() throws {
        let padding = String(repeating: "# padding to make the manifest too large to read\n", count: ManifestFile.maxBytes / 49 + 1)
        let found = try issues("services: { api: { command: x } }\n" + padding)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("devhost.yml is too large") == true, "\(found)")
        #expect(found.first?.message.contains("4 MiB") == true, "\(found)")
    }

    @Test func overlaysAndEnvFilesHaveTheSameCap() throws {
        let big = String(repeating: "# padding to make the file too large to read\n", count: ManifestFile.maxBytes / 45 + 1)
        let project = try TempProject([
            "devhost.yml": "services: { api: { command: x } }\n",
            "devhost.big.yml": big,
        ])
        #expect(throws: ManifestError.self) { try project.load(overlay: "big") }
        do {
            _ = try project.load(overlay: "big")
        } catch {
            #expect(error.description.contains("devhost.big.yml is too large"), "\(error)")
        }

        let env = try TempProject(["devhost.yml": "env_file: .env\nservices: { api: { command: x } }\n", ".env": big])
        do {
            _ = try env.load()
            Issue.record("a 4 MiB env file was read")
        } catch {
            #expect(error.description.contains(".env is too large"), "\(error)")
        }
    }

    @Test func aManifestThatIsAFifoIsRefusedInsteadOfReadForever() throws {
        let project = try TempProject()
        #expect(mkfifo(project.file("devhost.yml"), 0o644) == 0)
        do {
            _ = try project.load()
            Issue.record("a FIFO was accepted")
        } catch {
            #expect(error.description.contains("not a regular file"), "\(error)")
        }
    }
}
