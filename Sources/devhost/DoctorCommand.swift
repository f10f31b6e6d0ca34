import ArgumentParser
import DevhostInit
import DevhostManifest
import DevhostRuntime
import Foundation

/// `devhost doctor`: what a new team member's machine needs for this project, each finding with its fix.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine for what the project needs; print each finding with its fix.",
        discussion: "Exit status 1 when something would stop `devhost up`; warnings alone exit 0."
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @OptionGroup var proxyOptions: ProxyOptions

    enum Level: String {
        case ok = "ok"
        case warning = "warn"
        case failure = "FAIL"
    }

    struct Finding {
        var level: Level
        var text: String
        var fix: String?
    }

    func run() throws {
        var findings: [Finding] = []
        var manifest: Manifest?
        do {
            let loaded = try manifestOptions.load()
            manifest = loaded
            findings.append(
                Finding(
                    level: .ok,
                    text: "\((loaded.file as NSString).lastPathComponent) is valid (\(counted(loaded.services.count, "service")))"))
            for warning in loaded.warnings { findings.append(Finding(level: .warning, text: warning.description)) }
        } catch let failure as CommandFailure {
            findings.append(
                Finding(
                    level: .failure, text: "the manifest does not validate:\n" + failure.message,
                    fix: "fix the positions above; `devhost validate` rechecks"))
        }
        if let manifest {
            findings += Self.programs(manifest)
            findings += Self.envFiles(manifest)
            findings += Self.uv(manifest, path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            findings.append(proxyPort(manifest))
            findings.append(Self.stateFolder(manifest))
        }
        findings.append(
            Self.localhostResolution(
                domain: manifest?.proxy.domain ?? "localhost", example: manifest.map { exampleURL($0) } ?? "http://devhost.localhost:7777/")
        )
        findings.append(Finding(level: Git.isAvailable ? .ok : .warning, text: "libgit2 \(Git.libraryDescription)"))
        findings += Self.trust(environment: ProcessInfo.processInfo.environment)

        let out = Console.standardOutput
        for finding in findings {
            let mark: String
            switch finding.level {
            case .ok: mark = out.paint("ok  ", .green)
            case .warning: mark = out.paint("warn", .yellow)
            case .failure: mark = out.paint("FAIL", .red)
            }
            out.line("\(mark)  " + finding.text.replacingOccurrences(of: "\n", with: "\n      "))
            if let fix = finding.fix { out.line("      fix: " + fix) }
        }
        let failures = findings.filter { $0.level == .failure }.count
        let warnings = findings.filter { $0.level == .warning }.count
        out.line(
            failures == 0
                ? "ready (\(warnings) warning\(warnings == 1 ? "" : "s"))" : "\(failures) problem\(failures == 1 ? "" : "s") to fix")
        if failures > 0 { throw ExitCode.failure }
    }

    /// The program each command and setup step runs exists (or setup will create it).
    static func programs(_ manifest: Manifest) -> [Finding] {
        var findings: [Finding] = []
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for service in manifest.services {
            let steps = [("setup", service.setup), ("command", Optional(service.command))]
            for (key, command) in steps {
                guard let command, let program = program(of: command) else { continue }
                if let found = resolve(program, cwd: service.cwd, path: path) {
                    findings.append(Finding(level: .ok, text: "services.\(service.name).\(key): \(program) → \(found)"))
                } else if key == "command", let setup = service.setup {
                    findings.append(
                        Finding(
                            level: .ok, text: "services.\(service.name).command: \(program) is not there yet; setup creates it (\(setup))"))
                } else {
                    findings.append(
                        Finding(
                            level: .failure,
                            text:
                                "services.\(service.name).\(key): \(program) is not found\(program.contains("/") ? " in \(service.relativeCwd)" : " on PATH")",
                            fix: installHint(for: program)))
                }
            }
        }
        return findings
    }

    /// Setups that use uv when it is on PATH (the Python templates') fall back to venv + pip, which
    /// makes the first `up` several times slower: say so, with the one-line install.
    static func uv(_ manifest: Manifest, path: String) -> [Finding] {
        let users = manifest.services.filter { $0.setup?.description.contains("command -v uv") == true }.map(\.name)
        guard !users.isEmpty else { return [] }
        if let found = ChildProcesses.resolve("uv", path: path) {
            return [Finding(level: .ok, text: "uv → \(found): \(users.joined(separator: ", ")) set up with uv")]
        }
        return [
            Finding(
                level: .ok,
                text:
                    "uv is not on PATH: \(users.joined(separator: ", ")) set up with python3 -m venv + pip (several times slower on a first up)",
                fix: "python3 -m pip install uv")
        ]
    }

    /// The first word a command runs, after `VAR=value` assignments and `exec`; nil when it is computed.
    static func program(of command: Command) -> String? {
        switch command {
        case .argv(let words): return words.first
        case .shell(let text):
            // A compound command (`if command -v uv …; then …; else …; fi`) picks its program at run time.
            if let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first,
                ["if", "{", "!", "case", "for", "while"].contains(first) || first.hasPrefix("(")
            {
                return nil
            }
            for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if word == "exec" || (word.contains("=") && !word.hasPrefix("=")) { continue }
                return word.contains("$") ? nil : String(word)
            }
            return nil
        }
    }

    static func resolve(_ program: String, cwd: String, path: String) -> String? {
        guard program.contains("/") else { return ChildProcesses.resolve(program, path: path) }
        let full = program.hasPrefix("/") ? program : cwd + "/" + program
        return access(full, X_OK) == 0 ? full : nil
    }

    static func installHint(for program: String) -> String {
        let name = (program as NSString).lastPathComponent
        switch name {
        case "python3", "python": return "apt-get install python3 python3-venv (or your system's python 3.10+)"
        case "node": return "apt-get install nodejs (or install Node.js 18+ from nodejs.org)"
        case "uvicorn", "flask", "gunicorn", "django-admin":
            return "pip install \(name) in the project's virtualenv (the template's setup step does this)"
        default: return "install \(name), or fix the command in devhost.yml"
        }
    }

    /// Env files the manifest names exist, or have an example to copy. Env files are optional (an
    /// absent one is skipped), so an absent file is only worth a warning when its example sets
    /// variables the services may need; an example of comments alone is nothing to fill in.
    static func envFiles(_ manifest: Manifest) -> [Finding] {
        let files = Set([manifest.envFile].compactMap { $0 } + manifest.services.compactMap(\.envFile))
        return files.sorted().compactMap { file in
            if FileManager.default.fileExists(atPath: file) { return nil }
            let name = (file as NSString).lastPathComponent
            let example = (try? String(contentsOfFile: file + ".example", encoding: .utf8)) ?? ""
            let settings = example.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty && !$0.hasPrefix("#")
            }
            if settings.isEmpty {
                return Finding(level: .ok, text: "\(name) is absent (optional; services start without it)")
            }
            return Finding(
                level: .warning,
                text: "\(name) is missing and \(name).example sets \(counted(settings.count, "variable")) (services start without them)",
                fix: "cp \(name).example \(name), then fill in your values")
        }
    }

    /// The address a user would open first: the first route's public URL with the proxy port in use.
    func exampleURL(_ manifest: Manifest) -> String {
        let port = (try? proxyOptions.resolvedPort(manifestPort: manifest.proxy.port)) ?? manifest.proxy.port
        guard let route = manifest.services.lazy.flatMap(\.routes).first else { return "http://devhost.\(manifest.proxy.domain):\(port)/" }
        return "http://\(manifest.host(forRoute: route)):\(port)"
    }

    func proxyPort(_ manifest: Manifest) -> Finding {
        if case .shared(let edge)? = try? proxyOptions.placement(manifest: manifest) {
            guard let owner = PortScanner().owner(ofPort: edge.port) else {
                return Finding(
                    level: .ok, text: "proxy port \(edge.port) is free: the first `devhost up` starts the shared edge proxy there")
            }
            if let pid = edge.runningPID(), pid == owner.pid {
                return Finding(level: .ok, text: "the shared edge proxy (pid \(pid)) serves port \(edge.port); this project joins it")
            }
            return Finding(
                level: .failure,
                text: "proxy port \(edge.port) is taken by pid \(owner.pid) (\(owner.command)), not by devhost's edge proxy",
                fix: "stop that process, or move the edge: DEVHOST_EDGE_PORT=7788")
        }
        let port = (try? proxyOptions.resolvedPort(manifestPort: manifest.proxy.port)) ?? manifest.proxy.port
        let state = try? ProjectState(manifest: manifest)
        guard let owner = PortScanner().owner(ofPort: port) else {
            return Finding(level: .ok, text: "proxy port \(manifest.proxy.bind):\(port) is free")
        }
        if let state, let running = ProjectLock.holder(state), running == owner.pid {
            return Finding(level: .ok, text: "proxy port \(port) is this project's running devhost (pid \(owner.pid))")
        }
        return Finding(
            level: .failure, text: "proxy port \(port) is taken by pid \(owner.pid) (\(owner.command))",
            fix: "stop that process, or use another port: `devhost up --proxy-port 7788` or DEVHOST_PROXY_PORT=7788")
    }

    static func stateFolder(_ manifest: Manifest) -> Finding {
        let state: ProjectState
        do {
            state = try ProjectState(manifest: manifest)
        } catch {
            return Finding(level: .failure, text: error.description, fix: "rm \(error.path), then run devhost again")
        }
        let probe = state.root + "/.doctor-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: state.root, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: probe, contents: Data()) else { throw CocoaError(.fileWriteNoPermission) }
            unlink(probe)
            return Finding(level: .ok, text: ".devhost/ is writable (logs, ports, control socket)")
        } catch {
            return Finding(level: .failure, text: "cannot write \(state.root)", fix: "check the folder's owner and permissions")
        }
    }

    /// Whether the system resolver maps `*.localhost` to loopback (browsers do it themselves; curl
    /// 7.78+ too; other tools ask the resolver).
    static func localhostResolution(domain: String, example: String) -> Finding {
        let host = "devhost-doctor-check.\(domain)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, nil, &hints, &result)
        defer { if let result { freeaddrinfo(result) } }
        var loopback = false
        var cursor = result
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                    }
                    if value >> 24 == 127 { loopback = true }
                } else if entry.pointee.ai_family == AF_INET6 {
                    let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    if bytes == [UInt8](repeating: 0, count: 15) + [1] { loopback = true }
                }
            }
            cursor = entry.pointee.ai_next
        }
        if code == 0, loopback {
            return Finding(level: .ok, text: "*.\(domain) resolves to loopback through the system resolver")
        }
        return Finding(
            level: .warning,
            text:
                "*.\(domain) does not resolve through the system resolver (\(code == 0 ? "not to loopback" : String(cString: gai_strerror(code)))); browsers and curl still reach \(example)",
            fix:
                "apt-get install libnss-myhostname and add `myhostname` to the hosts: line of /etc/nsswitch.conf (systemd-resolved does this by itself)"
        )
    }
}
