import ArgumentParser
import DevhostManifest
import DevhostRuntime
import DevhostTLS
import Foundation

/// `devhost trust`: makes the local CA if needed and installs it where browsers and tools look;
/// `--uninstall` removes exactly what an earlier run added.
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Trust devhost's local CA in the system store and the browsers' NSS databases (--uninstall removes it).",
        discussion: """
            The CA (made on first use in $XDG_DATA_HOME/devhost/ca or ~/.local/share/devhost/ca) can only \
            sign certificates for localhost, *.localhost, the domains given with --domain, 127.0.0.1 and ::1. \
            The system store needs root: devhost runs its steps with sudo when it is not root. \
            What was added is recorded in the CA folder (trust.json); --uninstall reads it. See docs/https.md.
            """
    )

    @Flag(help: "Remove the CA from every store an earlier `devhost trust` added it to.")
    var uninstall = false

    @Option(
        name: .customLong("domain"),
        help: "A domain besides localhost the CA may sign for (a project's proxy.domain); only when the CA is made.")
    var domains: [String] = []

    @Flag(name: .customLong("no-system"), help: "Leave the system store alone.")
    var noSystem = false

    @Option(name: .customLong("system-root"), help: "Treat this folder as / for the system store (for tests and chroots).")
    var systemRoot = "/"

    @Option(name: .customLong("nssdb"), help: "An NSS database folder to add to, instead of those found under $HOME (repeatable).")
    var nssDatabases: [String] = []

    @Flag(name: .customLong("no-nss"), help: "Leave the NSS databases alone.")
    var noNSS = false

    @Flag(name: .customLong("create-nssdb"), help: "Create Chromium's ~/.pki/nssdb when it does not exist yet.")
    var createDatabase = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let files = LocalCAFiles(environment: environment) else {
            throw CommandFailure(message: "neither XDG_DATA_HOME nor HOME is set (as absolute paths): devhost has nowhere to keep its CA")
        }
        let out = Console.standardOutput
        let report: TrustInstaller.Report
        if uninstall {
            report = try Self.failing { try TrustInstaller.uninstall(files: files, tools: .childProcesses) }
        } else {
            let ca = try Self.failing { try LocalCA.loadOrCreate(files: files, scope: try NameScope(extraDomains: domains)) }
            out.line("CA: \(files.certificate) (permits \(ca.scope.summary))")
            report = try Self.failing { try Self.installer(files: files, environment: environment, options: self).install(ca) }
        }
        for line in report.done { out.line("done: " + line) }
        for line in report.failed { Console.standardError.error(line) }
        if !report.failed.isEmpty { throw ExitCode.failure }
    }

    /// The stores `options` name (or the defaults: the system store and every NSS database found).
    static func installer(files: LocalCAFiles, environment: [String: String], options: TrustCommand?) -> TrustInstaller {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let explicit = options?.nssDatabases ?? []
        let databases = options?.noNSS == true ? [] : explicit.isEmpty ? NSSTrustStore.discover(home: home) : explicit
        let create = options?.createDatabase == true && options?.noNSS != true ? NSSTrustStore.chromiumDatabase(home: home) : nil
        let system = options?.noSystem == true ? nil : SystemTrustStore(root: options?.systemRoot ?? "/")
        return TrustInstaller(
            files: files, system: system, nssDatabases: databases, createDatabase: create, user: userName(), tools: .childProcesses)
    }

    static func userName() -> String {
        let name = ProcessInfo.processInfo.userName
        return name.isEmpty ? "uid\(geteuid())" : name
    }

    /// A TLS error becomes one `error:` line.
    static func failing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TLSError {
            throw CommandFailure(message: error.description)
        }
    }
}

extension ToolRunner {
    /// Through devhost's own spawner and reaper, which every child of devhost goes through.
    static let childProcesses = ToolRunner { argv in
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TLSError("cannot run \(argv[0]): \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(
                argv, environment: ProcessInfo.processInfo.environment, directory: "/", outputFD: fds[1])
        } catch {
            close(fds[0])
            close(fds[1])
            throw TLSError("\(error)")
        }
        close(fds[1])
        let output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        let status: Int32
        switch ChildProcesses.shared.waitBlocking(for: pid) {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return Outcome(status: status, output: String(decoding: output, as: UTF8.self))
    }
}
