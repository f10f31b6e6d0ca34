import DevhostTestSupport
import Foundation
import NIOSSL
import Testing

@testable import DevhostTLS

/// The server building block against real clients: curl, OpenSSL's s_client and Python's ssl.
@Suite struct TLSServerTests {
    /// A TLS server for `temp`'s CA; `body` gets its port and the log it writes.
    static func withServer(
        _ temp: TempCA, protocols: [String] = TLSServerConfiguration.defaultApplicationProtocols,
        _ body: (Int, LogCapture) async throws -> Void
    ) async throws {
        let log = LogCapture()
        let context = try TLSServerConfiguration.makeContext(
            issuer: CertificateIssuer(ca: temp.ca), applicationProtocols: protocols, logger: log.logger)
        let server = try await TestTLSServer(context: context)
        do {
            try await body(server.port, log)
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    static func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(["curl", "-sS", "--max-time", "10", "--http1.1"] + arguments)
    }

    @Test func curlWithTheCAGetsACertificateForTheName() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp) { port, _ in
            let result = try Self.curl([
                "--cacert", temp.files.certificate, "--resolve", "api.shop.localhost:\(port):127.0.0.1",
                "-w", "%{ssl_verify_result} %{http_code} %{http_version}", "https://api.shop.localhost:\(port)/",
            ])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output == "hello over TLS\n0 200 1.1")

            let client = try run([
                "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "api.shop.localhost", "-CAfile",
                temp.files.certificate,
                "-verify_return_error", "-verify_hostname", "api.shop.localhost", "-alpn", "h2,http/1.1",
            ])
            #expect(client.output.contains("Verify return code: 0 (ok)"), "\(client.output)")
            let subject = client.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map {
                $0.replacingOccurrences(of: " ", with: "")
            }
            #expect(subject == "subject=O=devhost,CN=api.shop.localhost", "\(client.output)")
            #expect(client.output.contains("ALPN protocol: h2"), "h2 is offered first")
        }
    }

    @Test func theOfferedProtocolsAreConfigurable() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp, protocols: ["http/1.1"]) { port, _ in
            let client = try run([
                "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "x.localhost", "-CAfile", temp.files.certificate,
                "-alpn", "h2,http/1.1",
            ])
            #expect(client.output.contains("ALPN protocol: http/1.1"), "\(client.output)")
        }
    }

    @Test func curlWithoutTheCAFailsVerification() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp) { port, _ in
            let result = try Self.curl(["--resolve", "api.localhost:\(port):127.0.0.1", "https://api.localhost:\(port)/"])
            #expect(result.status == 60, "curl's 'peer certificate cannot be authenticated': \(result.output)")
        }
    }

    @Test func aClientWithoutSNIGetsTheLoopbackCertificate() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp) { port, _ in
            let result = try Self.curl([
                "--cacert", temp.files.certificate, "-w", "%{ssl_verify_result} %{http_code}", "https://127.0.0.1:\(port)/",
            ])
            #expect(result.output == "hello over TLS\n0 200", "\(result.output)")
        }
    }

    @Test func pythonSSLWithTheCAConnects() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp) { port, _ in
            let script = """
                import socket, ssl, sys
                context = ssl.create_default_context(cafile=sys.argv[1])
                with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname="web.shop.localhost") as tls:
                        print(tls.getpeercert()["subjectAltName"], tls.version())
                        tls.sendall(b"GET / HTTP/1.1\\r\\nHost: web.shop.localhost\\r\\nConnection: close\\r\\n\\r\\n")
                        print(tls.recv(4096).decode().split("\\r\\n")[0])
                """
            let result = try run(["python3", "-c", script, temp.files.certificate, String(port)])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("(('DNS', 'web.shop.localhost'),) TLSv1.3"), "\(result.output)")
            #expect(result.output.contains("HTTP/1.1 200 OK"))
        }
    }

    @Test func aNameOutsideTheConstraintsFailsTheHandshakeWithALogLine() async throws {
        let temp = try TempCA()
        try await Self.withServer(temp) { port, log in
            // --insecure: even a client that checks nothing gets no certificate for the name.
            let result = try Self.curl(["--insecure", "--resolve", "www.example.com:\(port):127.0.0.1", "https://www.example.com:\(port)/"])
            #expect(result.status == 35, "a TLS handshake failure: \(result.output)")
            #expect(
                await eventually(timeout: .seconds(5)) {
                    log.text.contains(
                        "warning TLS handshake refused: refused a certificate for \"www.example.com\": outside the devhost CA's name constraints"
                    )
                }, "\(log.text)")
            #expect(log.text.contains("sni=www.example.com"))
        }
    }
}
