import DevhostInit
import DevhostTestSupport
import Foundation
import Testing

@Suite struct GitSourceTests {
    /// A local git repository holding a template: tag v1 says "one", main moves on to "two".
    func templateRepository() throws -> TempProject {
        let repo = try TempProject([
            "template.yml": "name: gitty\ndescription: from git\n",
            "files/devhost.yml": "name: {{project_name}}\nservices:\n  web: { command: ./web }\n",
            "files/Dockerfile": "FROM alpine\n",
            "files/version.txt": "one\n",
        ])
        for command in [
            ["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "v1"], ["git", "tag", "v1"],
        ] {
            let result = try run(command, in: repo.path)
            #expect(result.status == 0, "\(command): \(result.output)")
        }
        try repo.write("files/version.txt", "two\n")
        _ = try run(["git", "commit", "-qam", "v2"], in: repo.path)
        return repo
    }

    @Test func cloneAtARefAndRecordWhereItCameFrom() throws {
        let repo = try templateRepository()
        let parent = try TempProject()
        let v1 = try TemplateSource.resolve(repo.path, ref: "v1", catalog: builtInCatalog)
        #expect(v1 == .git(url: URL(fileURLWithPath: repo.path).standardizedFileURL.path, ref: "v1"))
        _ = try ProjectGenerator(source: v1).generate(.init(target: parent.path + "/old", projectName: "old"))
        #expect(try parent.read("old/version.txt") == "one\n")
        let record = try parent.read("old/.devhost/template.yml")
        #expect(record.contains("kind: git"))
        #expect(record.contains("ref: v1"))
        let tagCommit = try run(["git", "rev-parse", "v1"], in: repo.path).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(record.contains(tagCommit))

        let head = try TemplateSource.resolve("file://" + repo.path, ref: nil, catalog: builtInCatalog)
        _ = try ProjectGenerator(source: head).generate(.init(target: parent.path + "/new", projectName: "new"))
        #expect(try parent.read("new/version.txt") == "two\n")
    }

    @Test func unknownRefAndMissingPathAreClearErrors() throws {
        let repo = try templateRepository()
        let parent = try TempProject()
        do {
            _ = try ProjectGenerator(source: .git(url: repo.path, ref: "v9")).generate(.init(target: parent.path + "/x", projectName: "x"))
            Issue.record("an unknown ref was accepted")
        } catch {
            #expect(String(describing: error).contains("no branch, tag or commit named \"v9\""))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
        do {
            _ = try TemplateSource.resolve("/nowhere/template.git", ref: nil, catalog: builtInCatalog)
            Issue.record("a missing path was accepted")
        } catch {
            #expect(String(describing: error) == "/nowhere/template.git does not exist")
        }
    }

    /// The first commit adds the generated files one by one (not `git add -A`): the result must be
    /// what git itself would commit, and read as clean by git without rehashing surprises.
    @Test func firstCommitMatchesWhatGitWouldAdd() throws {
        let template = try TempProject([
            "template.yml": "name: modes\ndescription: modes and ignores\n",
            "files/.gitignore": "*.log\nbuild/\n",
            "files/run.sh": "#!/bin/sh\necho hi\n",
            "files/keep.txt": "kept\n",
            "files/debug.log": "ignored\n",
            "files/build/out.txt": "ignored too\n",
            "files/docs/guide.md": "# guide\n",
        ])
        _ = try run(["chmod", "+x", template.path + "/files/run.sh"])
        let parent = try TempProject()
        let result = try ProjectGenerator(source: .folder(template.path)).generate(
            .init(target: parent.path + "/demo", projectName: "demo"))
        #expect(result.commit != nil)
        let project = parent.path + "/demo"
        let tracked = try run(["git", "ls-files", "-s"], in: project).output
        #expect(tracked.contains("100755") && tracked.contains("run.sh"), "\(tracked)")
        #expect(tracked.contains("docs/guide.md") && tracked.contains("keep.txt") && tracked.contains(".devhost/template.yml"))
        #expect(!tracked.contains("debug.log") && !tracked.contains("build/out.txt"), "ignored files stay out: \(tracked)")
        #expect(try run(["git", "status", "--porcelain", "--ignored=no"], in: project).output.isEmpty)
        // What git would have committed: re-adding everything changes nothing.
        _ = try run(["git", "add", "-A"], in: project)
        #expect(try run(["git", "diff", "--cached", "--stat"], in: project).output.isEmpty)
        #expect(try run(["git", "fsck", "--strict"], in: project).status == 0)
    }

    @Test func threeWayMergeKeepsBothSidesOrMarksConflicts() throws {
        let base = "a\nb\nc\n"
        let clean = try Git.mergeFile(base: base, ours: "A\nb\nc\n", theirs: "a\nb\nC\n", path: "f.txt")
        #expect(clean == Git.MergeResult(text: "A\nb\nC\n", hasConflicts: false))
        let conflict = try Git.mergeFile(base: base, ours: "x\nb\nc\n", theirs: "y\nb\nc\n", path: "f.txt")
        #expect(conflict.hasConflicts)
        #expect(conflict.text.contains("<<<<<<< yours"))
        #expect(conflict.text.contains(">>>>>>> template"))
    }
}

@Suite struct InitCommandTests {
    /// libgit2 starts without parsing the CA bundle in the devhost binary (ca_bundle.c); an https
    /// source must still get it parsed and reach the network, failing here on the closed port.
    @Test func httpsSourcesParseTheDeferredCABundle() throws {
        let parent = try TempProject()
        let result = try run([devhostBinary, "init", "-t", "https://127.0.0.1:9/none.git", "--defaults", "x"], in: parent.path)
        #expect(result.status == 1, "\(result.output)")
        #expect(!result.output.contains("CA certificates"), "\(result.output)")
        #expect(result.output.contains("clone https://127.0.0.1:9/none.git"), "\(result.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }

    /// libgit2's TLS (mbedTLS, linked in statically) really runs: a local https server with a
    /// throwaway self-signed certificate is reached, and the certificate is refused as untrusted.
    @Test func httpsSourcesGoThroughTLSVerification() throws {
        let work = try TempProject()
        let made = try run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj",
                "/CN=127.0.0.1", "-days", "1",
            ],
            in: work.path)
        try #require(made.status == 0, "openssl: \(made.output)")
        let serve = """
            import http.server, ssl
            server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain("cert.pem", "key.pem")
            server.socket = context.wrap_socket(server.socket, server_side=True)
            print("port", server.server_port, flush=True)
            server.serve_forever()
            """
        let server = try ChildProcess(argv: ["python3", "-c", serve], directory: work.path)
        defer { server.stop() }
        var port: String?
        for _ in 0..<500 where port == nil {
            port = server.output.split(separator: "\n").first { $0.hasPrefix("port ") }.map { String($0.dropFirst(5)) }
            if port == nil { usleep(10_000) }
        }
        let listening = try #require(port, "the TLS server did not start: \(server.output)")
        let url = "https://127.0.0.1:\(listening)/none.git"
        let result = try run([devhostBinary, "init", "-t", url, "--defaults", "x"], in: work.path)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("clone \(url) failed: the SSL certificate is invalid"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/x"))
    }

    @Test func doctorReportsTheLibgit2Version() throws {
        #expect(Git.libraryDescription.hasPrefix("1."), "\(Git.libraryDescription)")
    }

    @Test func identityFallsBackWhenGitConfigHasNone() throws {
        let home = try TempProject()
        let parent = try TempProject()
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home.path
        env["XDG_CONFIG_HOME"] = home.path + "/.config"
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        let result = try run([devhostBinary, "init", "--template", "node", "--defaults", "solo"], in: parent.path, environment: env)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("warning: git has no user.name/user.email"))
        let author = try run(["git", "log", "--format=%an <%ae>"], in: parent.path + "/solo")
        #expect(author.output == "devhost <devhost@localhost>\n")
    }

    @Test func configuredIdentityIsUsed() throws {
        let home = try TempProject([".gitconfig": "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"])
        let parent = try TempProject()
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home.path
        let result = try run([devhostBinary, "init", "-t", "static", "--defaults", "site-x"], in: parent.path, environment: env)
        #expect(result.status == 0, "\(result.output)")
        let author = try run(["git", "log", "--format=%an <%ae>"], in: parent.path + "/site-x")
        #expect(author.output == "Ada Lovelace <ada@example.com>\n")
    }

    @Test func noGitLeavesNoRepository() throws {
        let parent = try TempProject()
        let result = try run([devhostBinary, "init", "-t", "node", "--no-git", "plain"], in: parent.path)
        #expect(result.status == 0, "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: parent.path + "/plain/.git"))
        #expect(FileManager.default.fileExists(atPath: parent.path + "/plain/devhost.yml"))
    }

    @Test func errorsExitOneWithOneLineAndUsageExitsTwo() throws {
        let parent = try TempProject()
        let unknown = try run([devhostBinary, "init", "-t", "rails", "x"], in: parent.path)
        #expect(unknown.status == 1)
        #expect(unknown.output.hasPrefix("error: no template named \"rails\""))
        let badName = try run([devhostBinary, "init", "-t", "node", "Bad_Name"], in: parent.path)
        #expect(badName.status == 1)
        #expect(badName.output.contains("cannot be a project name"))
        let badSet = try run([devhostBinary, "init", "-t", "fastapi", "--set", "python_version=2.7", "ok"], in: parent.path)
        #expect(badSet.status == 1)
        #expect(badSet.output.contains("python_version=\"2.7\" is not allowed"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
        let usage = try run([devhostBinary, "init"], in: parent.path)
        #expect(usage.status == 2)
    }

    @Test func templatesListsJSON() throws {
        let result = try run([devhostBinary, "templates", "--json"])
        #expect(result.status == 0)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(list.compactMap { $0["name"] as? String } == BuiltInTemplateTests.templates)
    }
}

@Suite struct TemplateUpdateTests {
    @Test func updateMergesTemplateChangesIntoUserEdits() throws {
        let repo = try TempProject([
            "template.yml": "name: evolving\n",
            "files/devhost.yml": "name: {{project_name}}\nservices:\n  web: { command: ./web }\n",
            "files/Dockerfile": "FROM alpine\n",
            "files/notes.txt": "line 1\nline 2\nline 3\nline 4\nline 5\n",
            "files/conflict.txt": "original\n",
            "files/gone.txt": "to be removed\n",
        ])
        for command in [
            ["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "v1"], ["git", "tag", "v1"],
        ] {
            #expect(try run(command, in: repo.path).status == 0)
        }
        let parent = try TempProject()
        let project = parent.path + "/shop"
        _ = try ProjectGenerator(source: .git(url: repo.path, ref: "v1")).generate(.init(target: project, projectName: "shop"))

        // The user edits line 1 and the conflicting file, and commits.
        try parent.write("shop/notes.txt", "line 1 (mine)\nline 2\nline 3\nline 4\nline 5\n")
        try parent.write("shop/conflict.txt", "mine\n")
        #expect(try run(["git", "commit", "-qam", "my edits"], in: project).status == 0)

        // The template changes line 5, the conflicting file, adds a file, removes one, and adds a service.
        try repo.write("files/notes.txt", "line 1\nline 2\nline 3\nline 4\nline 5 (template)\n")
        try repo.write("files/conflict.txt", "template\n")
        try repo.write("files/new.txt", "fresh\n")
        try repo.write(
            "files/devhost.yml", "name: {{project_name}}\nservices:\n  web: { command: ./web }\n  worker: { command: ./work, port: none }\n"
        )
        try FileManager.default.removeItem(atPath: repo.path + "/files/gone.txt")
        #expect(try run(["git", "add", "-A"], in: repo.path).status == 0)
        #expect(try run(["git", "commit", "-qm", "v2"], in: repo.path).status == 0)

        let report = try TemplateUpdater(project: project).update(ref: "main", catalog: builtInCatalog)
        #expect(try parent.read("shop/notes.txt") == "line 1 (mine)\nline 2\nline 3\nline 4\nline 5 (template)\n")
        #expect(report.merged == ["notes.txt"])
        #expect(report.conflicts == ["conflict.txt"])
        #expect(try parent.read("shop/conflict.txt").contains("<<<<<<< yours"))
        #expect(report.added == ["new.txt"])
        #expect(report.removed == ["gone.txt"])
        #expect(!FileManager.default.fileExists(atPath: project + "/gone.txt"))
        #expect(try parent.read("shop/docker-compose.yml").contains("worker:"), "compose is regenerated from the merged manifest")
        let record = try parent.read("shop/.devhost/template.yml")
        let head = try run(["git", "rev-parse", "main"], in: repo.path).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(record.contains(head))
        // A second update right after committing has nothing left to do.
        #expect(try run(["git", "checkout", "--", "conflict.txt"], in: project).status == 0)
        #expect(try run(["git", "add", "-A"], in: project).status == 0)
        #expect(try run(["git", "commit", "-qm", "update"], in: project).status == 0)
        let again = try TemplateUpdater(project: project).update(ref: "main", catalog: builtInCatalog)
        #expect(again.updated.isEmpty && again.merged.isEmpty && again.added.isEmpty && again.conflicts.isEmpty, "\(again)")
    }
}
