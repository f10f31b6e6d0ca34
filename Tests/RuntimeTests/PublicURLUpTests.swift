import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `${svc.public_url}` under `devhost up`: https on the project's HTTPS listener when HTTPS is on,
/// the plain URL (`${svc.public_http_url}`) beside it, and the same links in `status` and the
/// dashboard (in headless Chromium).
@Suite("public_url and HTTPS under up", .serialized)
struct PublicURLUpTests {
    @Test(
        "a service sees public_url as https when HTTPS is on, public_http_url always plain; status and the dashboard link the same",
        arguments: [HTTPSMode.both, .off])
    func publicURLFollowsHTTPS(mode: HTTPSMode) async throws {
        let httpsPort = try freeLoopbackPort()
        let data = try TempProject()
        let dev = try DevhostRun(
            """
            name: pub
            proxy: { https_port: \(httpsPort), https: \(mode.rawValue) }
            services:
              api:
                command: python3 server.py
                route: [api, { host: "@", path: /api, strip_prefix: true }]
                health: { http: /healthz, interval: 100ms, retries: 1 }
                env: { PUBLIC: "${api.public_url}", PLAIN: "${api.public_http_url}" }
            """, environment: ["XDG_DATA_HOME": data.path])
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let plainURL = "http://api.pub.localhost:\(dev.proxyPort)"
        let secureURL = "https://api.pub.localhost:\(httpsPort)"
        let publicURL = mode == .off ? plainURL : secureURL
        let report = try #require(await dev.waitForStatus { $0.ok }, "\(up.output)")
        let api = try #require(report.services.first { $0.name == "api" })
        let stable = try #require(api.port)

        #expect(try curl("http://127.0.0.1:\(stable)/env/PUBLIC").body == publicURL)
        #expect(try curl("http://127.0.0.1:\(stable)/env/PLAIN").body == plainURL)
        // A path route is listed with its path, on the project's own host.
        let pathURL = (mode == .off ? "http://pub.localhost:\(dev.proxyPort)" : "https://pub.localhost:\(httpsPort)") + "/api"
        #expect(api.routes == [publicURL, pathURL])
        #expect(report.proxy?.httpsPort == (mode == .off ? nil : httpsPort))

        // The path route's link answers: the prefix is stripped on the way to the service.
        let port = mode == .off ? dev.proxyPort : httpsPort
        let caOption = mode == .off ? [] : ["--cacert", data.file("devhost/ca/ca.pem")]
        let throughPath = try run(
            ["curl", "-sS", "--max-time", "5", "--resolve", "pub.localhost:\(port):127.0.0.1"] + caOption + ["\(pathURL)/env/PLAIN"])
        #expect(throughPath.status == 0 && throughPath.output == plainURL, "\(throughPath.output)")

        let status = try dev.devhost(["status"])
        #expect(status.output.contains(publicURL), "\(status.output)")
        let dashboard = mode == .off ? "http://devhost.localhost:\(dev.proxyPort)/" : "https://devhost.localhost:\(httpsPort)/"
        #expect(status.output.contains("dashboard: \(dashboard)"), "\(status.output)")

        if mode != .off {
            // The URL the service was given answers, over HTTPS, with the CA devhost made.
            let ca = data.file("devhost/ca/ca.pem")
            let secure = try run([
                "curl", "-sS", "--max-time", "5", "--cacert", ca, "--resolve", "api.pub.localhost:\(httpsPort):127.0.0.1",
                "\(secureURL)/env/PUBLIC",
            ])
            #expect(secure.status == 0 && secure.output == secureURL, "\(secure.output)")
        }

        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(dev.proxyPort)/", "--screenshot", dev.project.file("dashboard.png"),
            "--expect", "api", "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        #expect((result["routes"] as? [String: [String]])?["api"] == [publicURL, pathURL], "\(result)")
    }

    /// `devhost validate` prints the URLs `up` will serve: https first (with the plain one beside it)
    /// unless the manifest turns HTTPS off.
    @Test(arguments: [
        ("", "https://api.v.localhost:7443/app (and http://api.v.localhost:7777/app)"),
        ("proxy: { https: off }\n", "http://api.v.localhost:7777/app"),
        ("proxy: { port: 8080, https_port: 9443 }\n", "https://api.v.localhost:9443/app (and http://api.v.localhost:8080/app)"),
    ])
    func validatePrintsTheURLsUpServes(proxy: String, expected: String) throws {
        let project = try TempProject([
            "devhost.yml":
                "name: v\n\(proxy)services:\n  api:\n    command: python3 -m http.server $PORT\n    route: [{ host: api, path: /app }]\n"
        ])
        let result = try run([devhostBinary, "validate"], in: project.path)
        #expect(result.status == 0 && result.output.contains("→ \(expected)\n"), "\(result.output)")
    }
}
