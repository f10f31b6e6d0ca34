import ArgumentParser
import DevhostManifest
import DevhostProxy

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check devhost.yml and print the services it resolves to."
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Flag(help: "Print the resolved model as JSON.")
    var json = false

    func run() throws {
        let manifest = try manifestOptions.load()
        let out = Console.standardOutput
        if json {
            out.line(manifest.json.serialized(pretty: true))
            return
        }
        let source = ([manifest.file] + manifest.overlays).joined(separator: " + ")
        out.line(
            "\(out.paint("✓", .green)) \(source): project \(out.paint(manifest.name, .bold)), \(manifest.services.count) service\(manifest.services.count == 1 ? "" : "s")"
        )
        // What `up` serves when the ports it asks for are free (it says so when one is not).
        let endpoints = PublicEndpoints(
            proxy: manifest.proxy, httpPort: manifest.proxy.port, servedHTTPSPort: manifest.proxy.httpsPort ?? ProxyTLS.defaultPort)
        for service in manifest.startOrder {
            var facts = ["port \(service.port)"]
            if service.replicas > 1 { facts.append("×\(service.replicas)") }
            if let health = service.health { facts.append("health \(health.summary)") }
            if !service.dependsOn.isEmpty {
                facts.append("after " + service.dependsOn.map { "\($0.service) (\($0.condition.rawValue))" }.joined(separator: ", "))
            }
            out.line("  \(out.paint(service.name, .cyan))  \(service.command)")
            out.line("    " + facts.joined(separator: " · "))
            for route in service.routeEntries {
                let strip = route.stripPrefix ? " (prefix stripped)" : ""
                let host = manifest.host(forRoute: route.host)
                let plain = endpoints.httpsPort == nil ? "" : " (and \(endpoints.httpURL(host: host))\(route.pathSuffix))"
                out.line("    → \(endpoints.url(host: host))\(route.pathSuffix)\(plain)\(strip)")
            }
        }
        for warning in manifest.warnings { Console.standardError.warning(warning.description) }
    }
}

extension HealthCheck {
    var summary: String {
        switch probe {
        case .http(let path): return "GET \(path) every \(DurationText.format(interval))"
        case .tcp: return "tcp every \(DurationText.format(interval))"
        case .exec(let command): return "`\(command)` every \(DurationText.format(interval))"
        case .postgres(let user, let database): return "postgres (\(user)@\(database)) every \(DurationText.format(interval))"
        case .redis(_, let password): return "redis PING\(password == nil ? "" : " after AUTH") every \(DurationText.format(interval))"
        case .mysql: return "mysql greeting every \(DurationText.format(interval))"
        case .kafka: return "kafka ApiVersions every \(DurationText.format(interval))"
        case .grpc(let service):
            return "grpc Health/Check \(service.isEmpty ? "(server)" : service) every \(DurationText.format(interval))"
        }
    }
}
