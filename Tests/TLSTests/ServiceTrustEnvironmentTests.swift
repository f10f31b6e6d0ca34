import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostTLS

/// Services started by devhost trust the routes with no setup of their own: the variables
/// ServiceEnvironment adds once the CA exists, read by a real Python and a real Node.
@Suite struct ServiceTrustEnvironmentTests {
    static let manifest = """
        name: shop
        services:
          api: { command: python3 app.py }
          legacy:
            command: python3 app.py
            env: { SSL_CERT_FILE: /etc/ssl/certs/ca-certificates.crt }
        """

    @Test func variablesAreAddedOnlyWhenTheCAExistsAndTheProjectSetsNone() throws {
        let project = try TempProject([
            "devhost.yml": "env_file: .env\n" + Self.manifest, ".env": "NODE_EXTRA_CA_CERTS=/from/env-file.pem\n",
        ])
        let manifest = try project.load()
        let api = try #require(manifest.service(named: "api"))
        let legacy = try #require(manifest.service(named: "legacy"))

        let none = try ServiceEnvironment(inherited: ["PATH": "/bin", "XDG_DATA_HOME": project.path + "/nothing"])
            .environment(for: api, in: manifest, instance: .init(index: 0, port: 1))
        #expect(none["DEVHOST_CA_FILE"] == nil && none["SSL_CERT_FILE"] == nil && none["REQUESTS_CA_BUNDLE"] == nil)

        let temp = try TempCA()
        let builder = ServiceEnvironment(inherited: [
            "PATH": "/bin", "XDG_DATA_HOME": temp.root + "/data", "REQUESTS_CA_BUNDLE": "/mine.pem",
            "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        ])
        let env = try builder.environment(for: api, in: manifest, instance: .init(index: 0, port: 1))
        #expect(env["DEVHOST_CA_FILE"] == temp.files.certificate)
        #expect(env["NODE_EXTRA_CA_CERTS"] == "/from/env-file.pem", "what the project's env file sets is kept")
        #expect(env["SSL_CERT_FILE"] == temp.files.bundle, "an inherited system bundle gives way to the bundle that holds it and the CA")
        #expect(env["REQUESTS_CA_BUNDLE"] == "/mine.pem", "another bundle devhost inherited is kept")
        let legacyEnv = try builder.environment(for: legacy, in: manifest, instance: .init(index: 0, port: 2))
        #expect(legacyEnv["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt", "what the service sets is kept, whatever it names")
        #expect(legacyEnv["DEVHOST_CA_FILE"] == temp.files.certificate)

        let bare = ServiceEnvironment(inherited: ["PATH": "/bin", "XDG_DATA_HOME": temp.root + "/data"])
        let project2 = try TempProject(["devhost.yml": Self.manifest])
        let loaded = try project2.load()
        let fresh = try bare.environment(for: try #require(loaded.service(named: "api")), in: loaded, instance: .init(index: 0, port: 1))
        #expect(fresh["NODE_EXTRA_CA_CERTS"] == temp.files.certificate)
        #expect(fresh["SSL_CERT_FILE"] == temp.files.bundle && fresh["REQUESTS_CA_BUNDLE"] == temp.files.bundle)
    }

    /// Python's default context (SSL_CERT_FILE) and Node's https (NODE_EXTRA_CA_CERTS), started with
    /// exactly the environment devhost gives the service, connect to a route's TLS server.
    @Test func pythonAndNodeTrustTheRoutesWithTheServiceEnvironment() async throws {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let manifest = try project.load()
        let api = try #require(manifest.service(named: "api"))
        let temp = try TempCA()
        // As on this project's machines, devhost's own environment points all three at the system
        // bundle; the services get the bundle that adds the CA to it.
        let system = "/etc/ssl/certs/ca-certificates.crt"
        let inherited = ProcessInfo.processInfo.environment.merging([
            "XDG_DATA_HOME": temp.root + "/data", "SSL_CERT_FILE": system, "REQUESTS_CA_BUNDLE": system, "NODE_EXTRA_CA_CERTS": system,
        ]) { $1 }
        let env = try ServiceEnvironment(inherited: inherited).environment(for: api, in: manifest, instance: .init(index: 0, port: 1))
        try await TLSServerTests.withServer(temp) { port, _ in
            let python = """
                import os, socket, ssl, sys
                context = ssl.create_default_context()
                with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname="api.shop.localhost") as tls:
                        tls.sendall(b"GET / HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nConnection: close\\r\\n\\r\\n")
                        print(tls.recv(4096).decode().split("\\r\\n")[0], os.environ["REQUESTS_CA_BUNDLE"] == os.environ["SSL_CERT_FILE"])
                # Public sites still verify through the same bundle: the system's CAs are in it.
                print(len(ssl.create_default_context().get_ca_certs()) > 1)
                """
            let fromPython = try run(["python3", "-c", python, String(port)], environment: env)
            #expect(fromPython.status == 0, "\(fromPython.output)")
            #expect(fromPython.output == "HTTP/1.1 200 OK True\nTrue\n", "\(fromPython.output)")

            var withoutCA = env
            withoutCA["SSL_CERT_FILE"] = nil
            let refused = try run(["python3", "-c", python, String(port)], environment: withoutCA)
            #expect(refused.status != 0 && refused.output.contains("CERTIFICATE_VERIFY_FAILED"), "the control: \(refused.output)")

            guard try run(["sh", "-c", "command -v node"], environment: env).status == 0 else { return }
            let node = """
                const https = require('https');
                https.get({ host: '127.0.0.1', port: Number(process.argv[1]), servername: 'api.shop.localhost', path: '/',
                            headers: { host: 'api.shop.localhost' } }, (response) => {
                  let body = '';
                  response.on('data', (chunk) => body += chunk);
                  response.on('end', () => console.log(response.statusCode, body.trim()));
                }).on('error', (error) => { console.log(error.code); process.exitCode = 1; });
                """
            let fromNode = try run(["node", "-e", node, String(port)], environment: env)
            #expect(fromNode.output == "200 hello over TLS\n", "\(fromNode.output)")
            var nodeWithoutCA = env
            nodeWithoutCA["NODE_EXTRA_CA_CERTS"] = nil
            let nodeRefused = try run(["node", "-e", node, String(port)], environment: nodeWithoutCA)
            #expect(
                nodeRefused.status == 1 && nodeRefused.output.contains("UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
                "the control: \(nodeRefused.output)")
        }
    }

    /// The whole way: `devhost up` runs a one-shot Python job that calls a route's TLS server with
    /// Python's defaults and reports what it got; devhost stops once the job has completed.
    @Test func aJobStartedByDevhostUpTrustsTheRoutes() async throws {
        let temp = try TempCA()
        try await TLSServerTests.withServer(temp) { port, _ in
            let script = """
                import os, socket, ssl, sys
                names = ["DEVHOST_CA_FILE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
                try:
                    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
                        with ssl.create_default_context().wrap_socket(raw, server_hostname="api.envcheck.localhost") as tls:
                            tls.sendall(b"GET / HTTP/1.1\\r\\nHost: api.envcheck.localhost\\r\\nConnection: close\\r\\n\\r\\n")
                            answer = tls.recv(4096).decode().split("\\r\\n")[0]
                except Exception as error:
                    answer = repr(error)
                with open("result.txt", "w") as out:
                    out.write("\\n".join([answer] + [os.environ.get(name, "-") for name in names]) + "\\n")
                """
            let project = try TempProject([
                "devhost.yml": "name: envcheck\nservices:\n  check:\n    command: python3 check.py \(port)\n    restart: \"no\"\n",
                "check.py": script,
            ])
            let free = try run(["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_DATA_HOME"] = temp.root + "/data"
            environment["HOME"] = temp.root + "/home"
            environment["DEVHOST_PROXY_PORT"] = free.output.trimmingCharacters(in: .whitespacesAndNewlines)
            environment["NO_COLOR"] = "1"
            // None inherited (the test above covers an inherited system bundle).
            for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"] { environment[name] = nil }
            let up = try run(["timeout", "60", devhostBinary, "up"], in: project.path, environment: environment)
            #expect(up.status == 0, "\(up.output)")
            let result = try project.read("result.txt")
            let files = temp.files
            let bundle = files.bundle
            #expect(
                result == ["HTTP/1.1 200 OK", files.certificate, files.certificate, bundle, bundle].joined(separator: "\n") + "\n",
                "\(up.output)")
        }
    }
}
