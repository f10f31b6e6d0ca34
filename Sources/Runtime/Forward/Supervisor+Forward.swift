import DevhostManifest
import Foundation
import NIOCore
import NIOPosix

extension Supervisor {
    /// Runs a forward instance instead of a command: checks the remote, opens the tunnel on a fresh
    /// inner port behind the service's stable port (whose relay holds it meanwhile), and reopens it as
    /// `ForwardLifecycle` and the instance's `InstanceLifecycle` decide.
    func runForwardInstance(_ instance: Instance) async {
        guard let forward = instance.service.forward else { return }
        let run = instance.forward ?? ForwardRun(host: Self.remoteName(forward))
        instance.forward = run
        if forwardClockTask == nil { forwardClockTask = Task { await self.watchClocks() } }
        var lastExit = ExitStatus.exited(255)
        // When the tunnel ended: the check that follows must see the host as it is since then. Its
        // ssh master may be ending too but not yet reaped, and an answer from before says nothing.
        var endedAt: ContinuousClock.Instant?
        var queue = run.machine.handle(.start)
        while !phase.isStopping, instance.lifecycle.mayRun, !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .checkRemote(let delay):
                if delay > .zero { await sleepUnlessStopping(delay, or: instance) }
                if phase.isStopping || !instance.lifecycle.mayRun { break }
                let problem = await remoteProblem(forward, trustLiveMaster: endedAt == nil, since: endedAt)
                endedAt = nil
                queue += run.machine.handle(.remoteChecked(reachable: problem == nil, detail: problem))
            case .waitForRemote(let reason):
                emit(SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .note("\(instance.label): \(reason)")))
                handle(.waiting("remote"), for: instance)
            case .connect:
                guard let end = await runTunnel(instance, forward: forward, run: run) else { break }
                lastExit = end.status
                endedAt = .now
                if instance.lifecycle.running {
                    // Stopped, restarted or failed its check: the instance's own lifecycle decides.
                    if !instance.lifecycle.probing {
                        guard let delay = handle(.exited(end.status, at: .now), for: instance).respawnAfter else { break }
                        await sleepUnlessStopping(delay, or: instance)
                        queue = run.machine.handle(.start)
                        continue
                    }
                    handle(.tunnelEnded, for: instance)
                }
                queue += run.machine.handle(.ended(output: end.lines))
            case .crashed(let message):
                emit(
                    SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .note("\(instance.label): \(message)")))
                guard let delay = handle(.exited(lastExit, at: .now), for: instance).respawnAfter else { break }
                await sleepUnlessStopping(delay, or: instance)
                queue = run.machine.handle(.start)
            case .fail(let message):
                handle(.failedToStart(message), for: instance)
            case .checkNow:
                break
            }
        }
        if !instance.lifecycle.mayRun || phase.isStopping { handle(.loopEnded, for: instance) }
    }

    /// Opens the tunnel and waits for it to end; nil when it never opened (the machine was told why).
    private func runTunnel(_ instance: Instance, forward: Forward, run: ForwardRun) async -> TunnelEnd? {
        let opened: Result<Tunnel, TunnelEnd>
        do {
            let inner = try freeLoopbackPort()
            switch forward.via {
            case .ssh(let ssh):
                let command = ForwardCommand(
                    ssh: ssh, configFile: options.environment["DEVHOST_SSH_CONFIG"], controlDirectory: try ControlDirectory.prepare())
                opened = await openSSHTunnel(instance, command: command, inner: inner)
            case .kubectl(let kube):
                opened = await openKubectlTunnel(instance, kube: kube, inner: inner)
            }
        } catch {
            opened = .failure(TunnelEnd(status: .exited(255), lines: ["\(error)"]))
        }
        let tunnel: Tunnel
        switch opened {
        case .failure(let end):
            for line in end.lines.suffix(5) { options.log.serviceLine(line, label: instance.label, service: instance.service.name) }
            return end
        case .success(let open): tunnel = open
        }
        run.tunnel = tunnel
        instance.generation += 1
        instance.pid = tunnel.pid
        instance.startedAt = .now
        emit(SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .spawned(pid: tunnel.pid, port: tunnel.inner)))
        handle(.spawned(port: tunnel.inner, at: instance.startedAt), for: instance)
        _ = run.machine.handle(.connected(at: instance.startedAt))
        // The tunnel's listener is up once ssh accepted the forward (or kubectl's port answers).
        handle(.listening(port: tunnel.inner), for: instance)
        let generation = instance.generation
        let healthTask = Task { await self.healthLoop(instance, generation: generation) }
        let end = await waitForEnd(of: tunnel)
        healthTask.cancel()
        run.tunnel = nil
        instance.pid = nil
        return end
    }

    func waitForEnd(of tunnel: Tunnel) async -> TunnelEnd {
        if let end = tunnel.finished { return end }
        return await withCheckedContinuation { tunnel.onEnd($0) }
    }

    /// Ends a forward instance's tunnel (its lifecycle asked for a stop, a restart, or a failed check).
    func endForward(_ instance: Instance) async {
        guard let tunnel = instance.forward?.tunnel else { return }
        await tunnel.close()
    }

    /// nil when the first hop answers a TCP connect (the ssh host or first jump host, the kube API
    /// server), else why not (DNS, refused, timed out). One check per remote runs at a time, shared by
    /// every forward asking (`RemoteChecks`). With `trustLiveMaster`, an ssh master to the host that is
    /// running or connecting answers instead: another forward is bringing it up, and a probe beside its
    /// key exchange would only add to what sshd's `MaxStartups` counts.
    func remoteProblem(_ forward: Forward, trustLiveMaster: Bool = false, since: ContinuousClock.Instant? = nil) async -> String? {
        let key: String
        switch forward.via {
        case .ssh(let ssh):
            let masterKey = ForwardCommand(ssh: ssh, configFile: options.environment["DEVHOST_SSH_CONFIG"], controlDirectory: "/").masterKey
            if trustLiveMaster, let master = sshMasters[masterKey], master.exitStatus == nil { return nil }
            key = "ssh\u{1}" + masterKey
        case .kubectl(let kube):
            key = "kubectl\u{1}" + (kube.context ?? "")
        }
        switch remoteChecks.begin(key, at: .now, since: since) {
        case .reuse(let problem):
            return problem
        case .join:
            return await remoteCheckTasks[key]?.value ?? nil
        case .probe:
            let task = Task { await self.connectToFirstHop(of: forward) }
            remoteCheckTasks[key] = task
            let problem = await task.value
            remoteCheckTasks[key] = nil
            remoteChecks.finish(key, problem: problem, at: .now)
            return problem
        }
    }

    private func connectToFirstHop(of forward: Forward) async -> String? {
        guard let (host, port) = await firstHop(of: forward) else { return nil }
        do {
            let channel = try await ClientBootstrap(group: group).connectTimeout(.seconds(2)).connect(host: host, port: port).get()
            try? await channel.close()
            return nil
        } catch {
            return "\(host):\(port): \(HealthProbe.describe(error))"
        }
    }

    private func firstHop(of forward: Forward) async -> (String, Int)? {
        switch forward.via {
        case .ssh(let ssh):
            let command = ForwardCommand(ssh: ssh, configFile: options.environment["DEVHOST_SSH_CONFIG"], controlDirectory: "/")
            let resolved = RecentLines(limit: 1000)
            guard (try? await runQuiet(command.resolve(), into: resolved))?.succeeded == true,
                let hop = ForwardCommand.firstHop(fromResolved: resolved.all)
            else { return nil }
            guard let jump = hop.jump else { return (hop.host, hop.port) }
            let jumpResolved = RecentLines(limit: 1000)
            guard (try? await runQuiet(command.resolve(jump), into: jumpResolved))?.succeeded == true,
                let first = ForwardCommand.firstHop(fromResolved: jumpResolved.all)
            else { return nil }
            return (first.host, first.port)
        case .kubectl(let kube):
            let server = RecentLines()
            guard (try? await runQuiet(kube.serverLookup, into: server))?.succeeded == true,
                let address = KubectlForward.serverAddress(server.all.joined())
            else { return nil }
            return address
        }
    }

    /// `kubectl port-forward` in its own process group; open once its port accepts a connection.
    private func openKubectlTunnel(_ instance: Instance, kube: KubectlForward, inner: Int) async -> Result<Tunnel, TunnelEnd> {
        let lines = RecentLines()
        let log = options.log
        let (label, service) = (instance.label, instance.service.name)
        let pid: pid_t
        let output: EventLoopFuture<Void>
        do {
            let (readFD, writeFD) = try Self.makePipe()
            do {
                pid = try ChildProcesses.shared.spawn(
                    kube.portForward(inner: inner), environment: options.environment, directory: "/", outputFD: writeFD)
            } catch {
                close(readFD)
                close(writeFD)
                throw error
            }
            close(writeFD)
            output = OutputReader.attach(fd: readFD, group: group) { line in
                lines.append(line)
                log.serviceLine(line, label: label, service: service)
            }
        } catch {
            return .failure(TunnelEnd(status: .exited(255), lines: ["\(error)"]))
        }
        watchdog?.watch(pid)
        let tunnel = Tunnel(pid: pid, inner: inner) {
            await self.endGroup(pid, signal: SIGTERM, timeout: .seconds(2))
        }
        Task {
            let status = await ChildProcesses.shared.exitStatus(of: pid)
            await self.endGroup(pid, signal: SIGKILL, timeout: .seconds(2))
            try? await output.get()
            self.kubectlExited(tunnel, status: status, lines: lines.all)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let end = tunnel.finished { return .failure(end) }
            if let channel = try? await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: inner).get() {
                try? await channel.close()
                return .success(tunnel)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await tunnel.close()
        return .failure(await waitForEnd(of: tunnel))
    }

    private func kubectlExited(_ tunnel: Tunnel, status: ExitStatus, lines: [String]) {
        watchdog?.forget(tunnel.pid)
        tunnel.finish(TunnelEnd(status: status, lines: lines))
    }

    static func remoteName(_ forward: Forward) -> String {
        switch forward.via {
        case .ssh(let ssh): return ssh.host
        case .kubectl(let kube): return kube.context.map { "the cluster of context \($0)" } ?? "the cluster"
        }
    }
}

extension Supervisor {
    /// Once a second, every forward's lifecycle compares the monotonic and wall clocks; after a
    /// suspend each open tunnel's remote is checked at once, and one that is gone ends the tunnel
    /// (its forward then waits for the remote) instead of lingering until ssh's keepalives give up.
    func watchClocks() async {
        while !phase.isStopping {
            try? await Task.sleep(for: .seconds(1))
            let (monotonic, wall) = (ContinuousClock.now, Date().timeIntervalSince1970)
            for instance in instances.values.flatMap({ $0 }) {
                guard let run = instance.forward, let forward = instance.service.forward else { continue }
                let suspended = run.machine.handle(.clocks(monotonic: monotonic, wallSeconds: wall)).contains(.checkNow)
                guard suspended, run.tunnel != nil else { continue }
                emit(
                    SupervisorEvent(
                        service: instance.service.name, instance: instance.index,
                        kind: .note("\(instance.label): the machine slept; checking the remote")))
                if await remoteProblem(forward) != nil { await endForward(instance) }
            }
        }
    }

    /// The fixed local end of a forward (`port: 15432`), which its relay takes; nil otherwise.
    static func forwardPort(of service: Service) -> Int? {
        guard service.forward != nil, case .fixed(let port) = service.port else { return nil }
        return port
    }

    /// Ends a forward instance's tunnel, found by label (called from `@Sendable` endings).
    func endForward(label: String, service: String) async {
        guard let instance = instances[service]?.first(where: { $0.label == label }) else { return }
        await endForward(instance)
    }

    /// devhost is stopping: masters still running (a forward that was never closed) end now.
    func endSSHMasters() async {
        let masters = Array(sshMasters.values)
        for master in masters { await endGroup(master.pid, signal: SIGTERM, timeout: .seconds(2)) }
    }
}
