import DevhostManifest
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// One ssh master connection per destination, shared by every forward to it. Its output goes to the
/// log of each service using it; it ends when its last forward is closed (or devhost stops).
final class SSHMaster {
    let key: String
    let command: ForwardCommand
    let pid: pid_t
    let output: RecentLines
    /// The services whose logs its output goes to.
    let logServices: ServiceSet
    /// Forward instances using it (their labels), to tell when it is no longer needed.
    var users = Set<String>()
    var exitStatus: ExitStatus?
    /// Tunnels open on it: a master's exit ends them all.
    var tunnels: [String: Tunnel] = [:]

    init(key: String, command: ForwardCommand, pid: pid_t, output: RecentLines, logServices: ServiceSet) {
        self.key = key
        self.logServices = logServices
        self.command = command
        self.pid = pid
        self.output = output
    }
}

extension Supervisor {
    /// Opens the ssh forward of `instance` on `inner`: starts the destination's master unless one runs,
    /// then asks it for `-L 127.0.0.1:inner:REMOTE`. Returns the tunnel, or the lines saying why not.
    func openSSHTunnel(_ instance: Instance, command: ForwardCommand, inner: Int) async -> Result<Tunnel, TunnelEnd> {
        let label = instance.label
        let service = instance.service.name
        var master = sshMasters[command.masterKey]
        if master?.exitStatus != nil { master = nil }
        if master == nil {
            // A master killed outright leaves its socket behind, and a new one would then run without
            // multiplexing; no live master of this devhost uses it, so it is stale.
            unlink(command.controlPath)
            let output = RecentLines()
            let log = options.log
            do {
                let (readFD, writeFD) = try Self.makePipe()
                let pid: pid_t
                do {
                    pid = try ChildProcesses.shared.spawn(
                        command.master, environment: options.environment, directory: "/", outputFD: writeFD)
                } catch {
                    close(readFD)
                    close(writeFD)
                    throw error
                }
                close(writeFD)
                watchdog?.watch(pid)
                let users = ServiceSet(service)
                let outputDone = OutputReader.attach(fd: readFD, group: group) { line in
                    output.append(line)
                    for user in users.names { log.serviceLine(line, label: "ssh \(command.ssh.host)", service: user) }
                }
                let started = SSHMaster(key: command.masterKey, command: command, pid: pid, output: output, logServices: users)
                sshMasters[command.masterKey] = started
                master = started
                Task {
                    let status = await ChildProcesses.shared.exitStatus(of: pid)
                    try? await outputDone.get()
                    self.sshMasterExited(key: command.masterKey, pid: pid, status: status)
                }
            } catch {
                return .failure(TunnelEnd(status: .exited(255), lines: ["cannot start ssh: \(error)"]))
            }
        }
        guard let master else { return .failure(TunnelEnd(status: .exited(255), lines: ["no ssh master"])) }
        master.users.insert(label)
        master.logServices.add(service)
        // The master creates its control socket once it is connected and authenticated (a stale one
        // was removed before it started); it exits instead when it cannot connect. Watching for the
        // socket costs no process, so twenty forwards waiting for one master stay cheap.
        let deadline = ContinuousClock.now + .seconds(30)
        var info = stat()
        while master.exitStatus == nil, ContinuousClock.now < deadline {
            if lstat(command.controlPath, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        if let status = master.exitStatus {
            master.users.remove(label)
            return .failure(TunnelEnd(status: status, lines: master.output.all))
        }
        let request = RecentLines()
        let status = (try? await runQuiet(command.control("forward", inner: inner), into: request)) ?? .exited(255)
        guard status.succeeded, master.exitStatus == nil else {
            master.users.remove(label)
            await retireMasterIfUnused(master)
            return .failure(TunnelEnd(status: master.exitStatus ?? status, lines: master.output.all + request.all))
        }
        for line in request.all where !line.isEmpty { options.log.serviceLine(line, label: label, service: service) }
        let cancel = command.control("cancel", inner: inner)
        let tunnel = Tunnel(pid: master.pid, inner: inner) {
            _ = try? await self.runQuiet(cancel)
            await self.closeSSHTunnel(label: label, key: command.masterKey, inner: inner)
        }
        master.tunnels[label] = tunnel
        return .success(tunnel)
    }

    /// After `-O cancel`: the tunnel is over; the master goes when nothing else uses it. `inner` tells
    /// this tunnel from a newer one of the same instance (a late close must not end that one).
    func closeSSHTunnel(label: String, key: String, inner: Int) async {
        guard let master = sshMasters[key], let tunnel = master.tunnels[label], tunnel.inner == inner else { return }
        master.tunnels[label] = nil
        tunnel.finish(TunnelEnd(status: .signaled(SIGTERM), lines: []))
        master.users.remove(label)
        await retireMasterIfUnused(master)
    }

    func retireMasterIfUnused(_ master: SSHMaster) async {
        guard master.users.isEmpty, master.exitStatus == nil else { return }
        await endGroup(master.pid, signal: SIGTERM, timeout: .seconds(2))
    }

    private func sshMasterExited(key: String, pid: pid_t, status: ExitStatus) {
        watchdog?.forget(pid)
        guard let master = sshMasters[key], master.pid == pid else { return }
        master.exitStatus = status
        sshMasters[key] = nil
        let lines = master.output.all
        for tunnel in master.tunnels.values { tunnel.finish(TunnelEnd(status: status, lines: lines)) }
        master.tunnels = [:]
    }

    /// Runs a short ssh or kubectl command to completion, its output kept (not logged).
    func runQuiet(_ argv: [String], into lines: RecentLines? = nil) async throws -> ExitStatus {
        let (readFD, writeFD) = try Self.makePipe()
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(argv, environment: options.environment, directory: "/", outputFD: writeFD)
        } catch {
            close(readFD)
            close(writeFD)
            throw error
        }
        close(writeFD)
        let sink = lines ?? RecentLines()
        let done = OutputReader.attach(fd: readFD, group: group) { sink.append($0) }
        let status = await ChildProcesses.shared.exitStatus(of: pid)
        signalGroup(pid, SIGKILL)
        try? await done.get()
        return status
    }
}

/// The services whose logs a master's output goes to (read on the pipe's event loop).
final class ServiceSet: Sendable {
    private let box: NIOLockedValueBox<Set<String>>

    init(_ first: String) {
        box = NIOLockedValueBox([first])
    }

    func add(_ name: String) { box.withLockedValue { _ = $0.insert(name) } }
    var names: Set<String> { box.withLockedValue { $0 } }
}
