import DevhostManifest
import Foundation
import Testing

/// `forward:` as the issue writes it, and every mistake named with its key and position.
@Suite struct ForwardManifestTests {
    @Test func theIssuesExampleReadsAsWritten() throws {
        let manifest = try load(
            """
            services:
              db:
                forward:
                  ssh: { host: bastion.example.com, user: deploy, jump: [gate.example.com], identity_file: ~/.ssh/team }
                  remote: db.internal:5432
                port: 15432
              events:
                forward:
                  kubectl: { context: staging, namespace: data, target: svc/kafka, remote_port: 9092 }
              admin-api:
                forward: { kubectl: { target: deploy/admin, remote_port: 8080 } }
                route: admin
              app:
                command: run --db ${db.host}:${db.port}
                depends_on: { db: { condition: healthy } }

            """)
        let db = try #require(manifest.service(named: "db"))
        #expect(
            db.forward
                == Forward(
                    .ssh(
                        SSHForward(
                            host: "bastion.example.com", user: "deploy", jump: ["gate.example.com"], identityFile: "~/.ssh/team",
                            remoteHost: "db.internal", remotePort: 5432))))
        #expect(db.port == .fixed(15432))
        #expect(db.health?.probe == .tcp, "a forward has a port, so it gets the tcp check by default")
        #expect(db.forward?.description == "ssh deploy@bastion.example.com via gate.example.com → db.internal:5432")
        let events = try #require(manifest.service(named: "events"))
        #expect(
            events.forward
                == Forward(.kubectl(KubectlForward(context: "staging", namespace: "data", target: "svc/kafka", remotePort: 9092))))
        #expect(events.port == .auto)
        #expect(manifest.service(named: "admin-api")?.routes == ["admin"])
        #expect(manifest.service(named: "admin-api")?.forward?.description == "kubectl deploy/admin:8080")
    }

    @Test func aRelativeIdentityFileIsTheManifestsAndIPv6RemotesKeepTheirBrackets() throws {
        let project = try TempProject([
            "devhost.yml": "services:\n  db:\n    forward: { ssh: { host: b, identity_file: keys/team }, remote: \"[::1]:6379\" }\n"
        ])
        guard case .ssh(let ssh)? = try project.load().service(named: "db")?.forward?.via else {
            Issue.record("not an ssh forward")
            return
        }
        #expect(ssh.identityFile == project.path + "/keys/team")
        #expect(ssh.remoteHost == "::1" && ssh.remotePort == 6379)
    }

    /// A manifest with one mistake, where it is and what is said (the validation suite's table row).
    typealias Case = ManifestValidationTests.Case

    static let cases: [Case] = [
        Case(
            yaml: "services:\n  db:\n    command: ssh -N\n    forward: { ssh: { host: b }, remote: \"x:1\" }\n",
            path: "services.db.command", message: "a forward service has no command", line: 3, column: 14),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: b } }\n",
            path: "services.db.forward.remote", message: "is missing: HOST:PORT", line: 3, column: 16),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: b }, remote: db.internal }\n",
            path: "services.db.forward.remote", message: "\"db.internal\" is not HOST:PORT", line: 3, column: 42),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { user: deploy }, remote: \"d:1\" }\n",
            path: "services.db.forward.ssh.host", message: "is missing", line: 3, column: 21),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: \"deploy@b\" }, remote: \"d:1\" }\n",
            path: "services.db.forward.ssh.host", message: "put the user in user:", line: 3, column: 29),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: b, jmup: [g] }, remote: \"d:1\" }\n",
            path: "services.db.forward.ssh.jmup", message: "unknown key \"jmup\" (did you mean \"jump\"?)", line: 3, column: 32),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: b, port: 99999 }, remote: \"d:1\" }\n",
            path: "services.db.forward.ssh.port", message: "out of range", line: 3, column: 38),
        Case(
            yaml: "services:\n  db:\n    forward: { ssh: { host: b }, kubectl: { target: pod/x, remote_port: 1 }, remote: \"d:1\" }\n",
            path: "services.db.forward", message: "has ssh and kubectl", line: 3, column: 14),
        Case(
            yaml: "services:\n  db:\n    forward: {}\n",
            path: "services.db.forward", message: "needs ssh", line: 3, column: 14),
        Case(
            yaml: "services:\n  k:\n    forward: { kubectl: { target: kafka, remote_port: 9092 } }\n",
            path: "services.k.forward.kubectl.target", message: "\"kafka\" is not pod/NAME, svc/NAME or deploy/NAME", line: 3, column: 35),
        Case(
            yaml: "services:\n  k:\n    forward: { kubectl: { target: svc/kafka } }\n",
            path: "services.k.forward.kubectl.remote_port", message: "is missing", line: 3, column: 25),
        Case(
            yaml: "services:\n  k:\n    forward: { kubectl: { target: svc/k, remote_port: 1 }, remote: \"d:1\" }\n",
            path: "services.k.forward.remote", message: "belongs to ssh forwards", line: 3, column: 60),
        Case(
            yaml: "services:\n  k:\n    forward: { kubectl: { target: svc/k, remote_port: 1 } }\n    port: none\n",
            path: "services.k.port", message: "a forward needs a local port", line: 4, column: 11),
        Case(
            yaml: "services:\n  k:\n    forward: { kubectl: { target: svc/k, remote_port: 1 } }\n    replicas: 2\n",
            path: "services.k.replicas", message: "a forward runs once", line: 4, column: 15),
    ]

    @Test(arguments: cases) func eachMistakeNamesItsKeyAndPosition(_ c: Case) throws {
        let found = try issues(c.yaml)
        let issue = try #require(found.first { $0.path == c.path }, "\(found)")
        #expect(issue.message.contains(c.message), "\(issue)")
        #expect(issue.location?.line == c.line, "\(issue)")
        #expect(issue.location?.column == c.column, "\(issue)")
    }
}
