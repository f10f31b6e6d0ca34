import DevhostManifest
import DevhostRuntime
import Foundation

/// `devhost up -d`: starts the same command again in its own session with its output in
/// `.devhost/up.log`, then waits until the services are up (or fail) and prints where they are.
enum Detach {
    static func start(state: ProjectState, timeout: Duration) async throws {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = CommandLine.arguments.dropFirst().filter { $0 != "-d" && $0 != "--detach" } + ["--detached"]
        try FileManager.default.createDirectory(atPath: state.root, withIntermediateDirectories: true)
        let output = open(state.detachedLog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard output >= 0 else { throw CommandFailure(message: "cannot write \(state.detachedLog): \(String(cString: strerror(errno)))") }
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(
                [executable] + arguments, environment: environment, directory: FileManager.default.currentDirectoryPath, outputFD: output)
        } catch {
            close(output)
            throw CommandFailure(message: "\(error)")
        }
        close(output)

        let client = ControlClient(state: state)
        let deadline = ContinuousClock.now + timeout
        var last: StatusReport?
        while ContinuousClock.now < deadline {
            if let status = ChildProcesses.shared.peekStatus(of: pid) {
                let tail = (try? String(contentsOfFile: state.detachedLog, encoding: .utf8))?.split(separator: "\n").suffix(30) ?? []
                throw CommandFailure(
                    message: "devhost exited (\(status)) before its services were up; the end of \(state.detachedLog):\n"
                        + tail.joined(separator: "\n"))
            }
            if let response = try? client.get("/v1/status"), response.status == 200, let report = try? StatusReport.decode(response.body) {
                last = report
                if report.ready { break }
                if report.services.flatMap(\.instances).contains(where: \.failed) { break }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let out = Console.standardOutput
        if let last { out.write(StatusTable.render(last, console: out)) }
        out.line("devhost runs in the background (pid \(pid)); `devhost logs -f` follows it, `devhost down` stops it")
        let failed = last?.services.flatMap(\.instances).filter(\.failed) ?? []
        if !failed.isEmpty {
            throw CommandFailure(
                message: "not everything came up: " + failed.map { "\($0.label) \($0.state)" }.joined(separator: ", ")
                    + " (`devhost logs SERVICE` shows why; devhost keeps running the rest)")
        }
        guard let last, last.ready else {
            let reason = last == nil ? "did not answer" : "is not up yet"
            throw CommandFailure(
                message:
                    "devhost \(reason) after \(DurationText.format(timeout)) (it keeps running; `devhost status` shows where it is, \(state.detachedLog) has its output)"
            )
        }
        if !last.ok { throw CommandFailure(message: "some services failed (see the table; `devhost logs SERVICE`)") }
    }
}
