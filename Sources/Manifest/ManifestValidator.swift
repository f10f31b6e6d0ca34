/// Checks that need the whole project: dependencies, references, routes and fixed ports.
struct ManifestValidator {
    var reader: NodeReader

    mutating func validate(_ manifest: Manifest) {
        let names = Set(manifest.services.map(\.name))
        checkDependencies(manifest, names: names)
        checkCycles(manifest)
        checkReferences(manifest)
        checkRoutes(manifest)
        checkPorts(manifest)
    }

    private mutating func checkDependencies(_ manifest: Manifest, names: Set<String>) {
        for service in manifest.services {
            for dependency in service.dependsOn {
                let path = "services.\(service.name).depends_on.\(dependency.service)"
                guard let target = manifest.service(named: dependency.service) else {
                    reader.fail(
                        path, "unknown service \"\(dependency.service)\"\(suggestion(dependency.service, names))", at: dependency.location)
                    continue
                }
                if target.name == service.name {
                    reader.fail(path, "a service cannot depend on itself", at: dependency.location)
                }
                if dependency.condition == .healthy, target.health == nil {
                    reader.fail(path, "condition healthy, but \"\(target.name)\" has no health check", at: dependency.location)
                }
                if dependency.condition == .completed, target.restart == .always {
                    reader.fail(
                        path, "condition completed, but \"\(target.name)\" has restart: always and never completes", at: dependency.location
                    )
                }
            }
        }
    }

    private mutating func checkCycles(_ manifest: Manifest) {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        var reported = Set<String>()
        func visit(_ service: Service) {
            marks[service.name] = .visiting
            stack.append(service.name)
            for dependency in service.dependsOn where dependency.service != service.name {
                guard let target = manifest.service(named: dependency.service) else { continue }
                switch marks[target.name] {
                case .visiting?:
                    let cycle = stack[stack.lastIndex(of: target.name)!...] + [target.name]
                    let key = Set(cycle).sorted().joined(separator: ",")
                    if reported.insert(key).inserted {
                        reader.fail(
                            "services.\(service.name).depends_on.\(target.name)",
                            "dependency cycle: \(cycle.joined(separator: " → "))", at: dependency.location)
                    }
                case .done?: break
                case nil: visit(target)
                }
            }
            stack.removeLast()
            marks[service.name] = .done
        }
        for service in manifest.services where marks[service.name] == nil { visit(service) }
    }

    private mutating func checkReferences(_ manifest: Manifest) {
        let names = Set(manifest.services.map(\.name))
        func check(_ text: String, _ path: String, _ location: SourceLocation?) {
            let references: [Interpolation.ServiceReference]
            do {
                references = try Interpolation.references(in: text)
            } catch {
                reader.fail(path, error.message, at: location)
                return
            }
            for reference in references {
                guard let target = manifest.service(named: reference.service) else {
                    reader.fail(
                        path,
                        "\"${\(reference.service).\(reference.field.rawValue)}\" names unknown service \"\(reference.service)\"\(suggestion(reference.service, names))",
                        at: location)
                    continue
                }
                if !target.hasPort {
                    reader.fail(
                        path, "\"${\(reference.service).\(reference.field.rawValue)}\": \"\(reference.service)\" has port: none",
                        at: location)
                } else if reference.field == .publicURL || reference.field == .publicHTTPURL, target.routes.isEmpty {
                    reader.fail(
                        path, "\"${\(reference.service).\(reference.field.rawValue)}\": \"\(reference.service)\" has no route",
                        at: location)
                }
            }
        }
        for entry in manifest.env { check(entry.value, "env.\(entry.key)", entry.location) }
        for service in manifest.services {
            let base = "services.\(service.name)"
            for entry in service.env { check(entry.value, "\(base).env.\(entry.key)", entry.location) }
            for word in service.command.argv { check(word, "\(base).command", service.locations["command"]) }
            for word in service.setup?.argv ?? [] { check(word, "\(base).setup", service.locations["setup"]) }
            if case .exec(let command)? = service.health?.probe { check(command, "\(base).health.exec", service.locations["health"]) }
            // Read from the instance's environment when the check runs (docs/manifest.md#interpolation).
            if case .redis(_, let password?)? = service.health?.probe {
                check(password, "\(base).health.redis.password", service.locations["health"])
            }
        }
    }

    /// One service per host, or per host and path: the same pair twice is an error naming both
    /// places (different services, or one service saying it twice).
    private mutating func checkRoutes(_ manifest: Manifest) {
        var owners: [String: (service: String, location: SourceLocation?)] = [:]
        for service in manifest.services {
            for route in service.routeEntries {
                let key = manifest.host(forRoute: route.host) + route.pathSuffix
                let location = route.location ?? service.locations["route"] ?? service.location
                guard let owner = owners[key] else {
                    owners[key] = (service.name, location)
                    continue
                }
                let other = owner.service == service.name ? "another route of this service" : "the route of \"\(owner.service)\""
                let place = owner.location.map { " (\($0))" } ?? ""
                reader.fail("services.\(service.name).route", "\(key) is already \(other)\(place)", at: location)
            }
        }
    }

    private mutating func checkPorts(_ manifest: Manifest) {
        var owners: [Int: String] = [manifest.proxy.port: "the proxy (proxy.port)"]
        for service in manifest.services {
            guard case .fixed(let port) = service.port else { continue }
            if let owner = owners[port] {
                reader.fail(
                    "services.\(service.name).port", "port \(port) is also used by \(owner)",
                    at: service.locations["port"] ?? service.location)
            } else {
                owners[port] = "service \"\(service.name)\""
            }
        }
    }

    private func suggestion(_ name: String, _ names: Set<String>) -> String {
        closest(to: name, in: names.sorted()).map { " (did you mean \"\($0)\"?)" } ?? ""
    }
}
