import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

/// `restart`, `stop` and `start`: one request per service to the running devhost, in order.
protocol ServiceControlCommand: ParsableCommand {
    static var action: String { get }
    var project: ProjectOptions { get }
    var services: [String] { get }
}

extension ServiceControlCommand {
    func run() throws {
        let client = ControlClient(state: try project.state())
        var failed = false
        for service in services {
            let response: ControlClient.Response
            do {
                response = try client.post("/v1/services/\(Self.percentEncoded(service))/\(Self.action)")
            } catch {
                throw CommandFailure(message: "\(error)")
            }
            if response.status == 200 {
                Console.standardOutput.line(response.message)
            } else {
                Console.standardError.error(response.message)
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
    }
}

struct RestartCommand: ServiceControlCommand {
    static let action = "restart"
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart services rolling: one instance at a time, the next once the new one is healthy.")
    @OptionGroup var project: ProjectOptions
    @Argument(help: "Services to restart.") var services: [String]
}

struct StopCommand: ServiceControlCommand {
    static let action = "stop"
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop services (devhost keeps running; `devhost start` brings them back).")
    @OptionGroup var project: ProjectOptions
    @Argument(help: "Services to stop.") var services: [String]
}

struct StartCommand: ServiceControlCommand {
    static let action = "start"
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start stopped services (or ones `devhost up` did not select) and wait until they are up.")
    @OptionGroup var project: ProjectOptions
    @Argument(help: "Services to start.") var services: [String]
}

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the running devhost and all its services (as Ctrl-C does); returns when everything is gone.")

    @OptionGroup var project: ProjectOptions

    @Option(help: "How long to wait for devhost to exit.")
    var timeout = "60s"

    func run() async throws {
        let state = try project.state()
        guard let limit = DurationText.parse(timeout) else { throw CommandFailure(message: "--timeout \(timeout) is not a duration") }
        guard let pid = ProjectLock.holder(state) else {
            Console.standardOutput.line("devhost is not running here")
            return
        }
        do {
            let response = try ControlClient(state: state).post("/v1/down")
            if response.status != 200 { throw CommandFailure(message: response.message) }
        } catch let failure as ControlClient.Failure {
            // The socket is gone but the process holds the lock: fall back to the signal Ctrl-C sends.
            if pid > 0 { kill(pid, SIGTERM) } else { throw CommandFailure(message: "\(failure)") }
        }
        let deadline = ContinuousClock.now + limit
        guard await ProjectLock.waitUntilReleased(state, timeout: limit) else {
            throw CommandFailure(message: "devhost (pid \(pid)) is still running after \(timeout)")
        }
        // The lock is free once devhost exits, but after `up -d` its parent is init, which may take a
        // while to reap it (a `<defunct>` in ps): return only once the process is gone for good.
        if pid > 0, !(await Self.waitUntilReaped(pid, deadline: deadline)) {
            Console.standardOutput.line("devhost stopped (pid \(pid) exited; its parent has not reaped it yet)")
            return
        }
        Console.standardOutput.line("devhost stopped")
    }

    /// Waits until `pid` no longer exists, zombie included; false at the deadline.
    static func waitUntilReaped(_ pid: pid_t, deadline: ContinuousClock.Instant) async -> Bool {
        while kill(pid, 0) == 0 || errno == EPERM {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Apply devhost.yml to the running devhost now (it also does so by itself when the file changes).")

    @OptionGroup var project: ProjectOptions

    func run() throws {
        let response: ControlClient.Response
        do {
            response = try ControlClient(state: try project.state()).post("/v1/reload")
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        guard response.status == 200 else { throw CommandFailure(message: response.message) }
        Console.standardOutput.line(response.message)
    }
}
