import DevhostManifest

/// Health checks as compose `healthcheck.test` commands that work in slim images, which often have
/// neither curl nor wget: python images get a python one-liner, node images a node one, others a shell chain.
enum ImageFamily: Equatable {
    case python, node, other

    /// Guesses from the image name, the Dockerfile's first `FROM`, then the command's program.
    static func guess(image: String?, dockerfile: String?, command: Command) -> ImageFamily {
        if let image { return from(image) }
        if let dockerfile {
            for line in dockerfile.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.first?.uppercased() == "FROM", words.count > 1 { return from(String(words[1])) }
            }
        }
        let program = command.argv.count == 3 && command.argv[0] == "/bin/sh" ? command.argv[2] : command.argv.first ?? ""
        return from(program)
    }

    private static func from(_ text: String) -> ImageFamily {
        let lower = text.lowercased()
        if lower.contains("python") || lower.contains("uvicorn") || lower.contains("gunicorn") || lower.contains("django")
            || lower.contains("flask") || lower.contains(".venv/")
        {
            return .python
        }
        if lower.contains("node") || lower.contains("npm") || lower.contains("deno") || lower.contains("bun") { return .node }
        return .other
    }
}

enum ComposeHealthcheck {
    /// `exec` commands arrive already escaped for compose (see `ContainerText`).
    static func test(for probe: HealthCheck.Probe, port: Int, family: ImageFamily) -> [String] {
        switch probe {
        case .exec(let command):
            return ["CMD-SHELL", command]
        case .http(let path):
            let url = "http://127.0.0.1:\(port)\(path)"
            switch family {
            case .python:
                return [
                    "CMD", "python", "-c", "import sys,urllib.request; sys.exit(urllib.request.urlopen('\(url)', timeout=5).status >= 400)",
                ]
            case .node:
                return [
                    "CMD", "node", "-e",
                    "require('http').get('\(url)', r => process.exit(r.statusCode < 400 ? 0 : 1)).on('error', () => process.exit(1))",
                ]
            case .other:
                return ["CMD-SHELL", "wget -q -O /dev/null '\(url)' || curl -fsS -o /dev/null '\(url)'"]
            }
        case .tcp:
            switch family {
            case .python:
                return ["CMD", "python", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), timeout=5)"]
            case .node:
                return [
                    "CMD", "node", "-e",
                    "require('net').connect(\(port), '127.0.0.1', () => process.exit(0)).on('error', () => process.exit(1))",
                ]
            case .other:
                return ["CMD-SHELL", tcpLine(port)]
            }
        case .postgres(let user, let database):
            return [
                "CMD-SHELL",
                orTCP("pg_isready", "pg_isready -q -h 127.0.0.1 -p \(port) -U \(quoted(user)) -d \(quoted(database))", port: port),
            ]
        case .redis(let user, let password):
            // REDISCLI_AUTH keeps the password off redis-cli's command line (and its warning off stderr).
            var line = "redis-cli -h 127.0.0.1 -p \(port)"
            if let user { line += " --user \(quoted(user))" }
            if let password { line = "REDISCLI_AUTH=\(quoted(password)) " + line }
            return ["CMD-SHELL", orTCP("redis-cli", line + " ping | grep -q PONG", port: port)]
        case .mysql:
            // mysqladmin ping exits 0 for a server that answers, even one refusing the user (as devhost's
            // greeting check does); MariaDB 11 images ship only mariadb-admin.
            let ping = "ping -h 127.0.0.1 -P \(port) --silent"
            return [
                "CMD-SHELL",
                "if command -v mysqladmin >/dev/null; then mysqladmin \(ping); elif command -v mariadb-admin >/dev/null; "
                    + "then mariadb-admin \(ping); else \(tcpLine(port)); fi",
            ]
        case .kafka:
            // Cannot be mapped: Kafka images have no common client on PATH (bitnami ships
            // kafka-broker-api-versions.sh, apache/kafka keeps it in /opt/kafka/bin and needs a JVM start of
            // seconds), so compose checks that the port accepts connections.
            return ["CMD-SHELL", tcpLine(port)]
        case .grpc(let service):
            // grpc_health_probe (grpc-ecosystem) speaks grpc.health.v1 but is in few images: where it is
            // missing, the port accepting connections is what compose can check (the generator says so).
            var line = "grpc_health_probe -addr=127.0.0.1:\(port)"
            if !service.isEmpty { line += " -service=\(quoted(service))" }
            return ["CMD-SHELL", orTCP("grpc_health_probe", line, port: port)]
        }
    }

    /// What the compose file says above a service whose check it can only approximate.
    static func note(for probe: HealthCheck.Probe) -> String? {
        guard case .grpc(let service) = probe else { return nil }
        return "health.grpc (\(service.isEmpty ? "the server" : service)): compose runs grpc_health_probe when the image has it "
            + "(it is not in common images: add it to the Dockerfile), otherwise it only checks that the port accepts connections"
    }

    private static func tcpLine(_ port: Int) -> String {
        "nc -z 127.0.0.1 \(port) || (exec 3<>/dev/tcp/127.0.0.1/\(port))"
    }

    /// Runs `line` when the image has `tool`; an image without it (an app image in front of a remote
    /// database) falls back to the TCP check instead of staying unhealthy forever.
    private static func orTCP(_ tool: String, _ line: String, port: Int) -> String {
        "if command -v \(tool) >/dev/null; then \(line); else \(tcpLine(port)); fi"
    }

    /// Single-quoted for `/bin/sh`, with `$` doubled so compose leaves it alone.
    private static func quoted(_ text: String) -> String {
        ContainerText.dollars("'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'")
    }
}
