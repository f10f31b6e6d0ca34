import DevhostManifest
import DevhostRuntime
import Foundation
import Testing

/// `ForwardLifecycle`, `ForwardFailure` and `ForwardCommand` without processes: events in, actions out.
@Suite struct ForwardLifecycleTests {
    typealias Event = ForwardLifecycle.Event
    typealias Action = ForwardLifecycle.Action

    static let t0 = ContinuousClock.now
    static let refused = ["ssh: connect to host bastion port 22: Connection refused"]
    static let hostKey = ["@@@@@@@@@@@", "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @", "Host key verification failed."]
    static let denied = ["deploy@bastion: Permission denied (publickey)."]
    static let forwardRefused = ["channel_setup_fwd_listener_tcpip: cannot listen to port: 40001", "Port forwarding failed"]

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [Event]
        /// The actions of the last event.
        var expected: [Action]
        var phase: ForwardLifecycle.Phase
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a start checks the remote first", events: [.start], expected: [.checkRemote(after: .zero)], phase: .checkingRemote),
        Case(
            name: "a reachable remote is connected", events: [.start, .remoteChecked(reachable: true, detail: nil)], expected: [.connect],
            phase: .connecting),
        Case(
            name: "an unreachable remote is waited for, polled every 500 ms",
            events: [.start, .remoteChecked(reachable: false, detail: "connection refused")],
            expected: [.waitForRemote("bastion unreachable: connection refused"), .checkRemote(after: .milliseconds(500))],
            phase: .waitingForRemote),
        Case(
            name: "waiting goes on without saying it again",
            events: [.start, .remoteChecked(reachable: false, detail: "x"), .remoteChecked(reachable: false, detail: "x")],
            expected: [.checkRemote(after: .milliseconds(500))], phase: .waitingForRemote),
        Case(
            name: "the remote back: connect at once",
            events: [.start, .remoteChecked(reachable: false, detail: "x"), .remoteChecked(reachable: true, detail: nil)],
            expected: [.connect], phase: .connecting),
        Case(
            name: "a tunnel that ends is followed by a remote check",
            events: [.start, .remoteChecked(reachable: true, detail: nil), .connected(at: t0), .ended(output: refused)],
            expected: [.checkRemote(after: .zero)], phase: .checkingRemote),
        Case(
            name: "ended with the remote away: waiting, not a crash",
            events: [
                .start, .remoteChecked(reachable: true, detail: nil), .connected(at: t0), .ended(output: refused),
                .remoteChecked(reachable: false, detail: "refused"),
            ],
            expected: [.waitForRemote("bastion unreachable: refused"), .checkRemote(after: .milliseconds(500))], phase: .waitingForRemote),
        Case(
            name: "ended while the remote answers: a crash the restart policy counts",
            events: [
                .start, .remoteChecked(reachable: true, detail: nil), .connected(at: t0), .ended(output: forwardRefused),
                .remoteChecked(reachable: true, detail: nil),
            ],
            expected: [.crashed("Port forwarding failed")], phase: .idle),
        Case(
            name: "a changed host key is final, whatever the remote",
            events: [.start, .remoteChecked(reachable: true, detail: nil), .ended(output: hostKey)],
            expected: [
                .fail(
                    "ssh to bastion: the host key does not match known_hosts (or is unknown); check it and update known_hosts, devhost will not retry"
                )
            ],
            phase: .failed(
                "ssh to bastion: the host key does not match known_hosts (or is unknown); check it and update known_hosts, devhost will not retry"
            )),
        Case(
            name: "a failed forward is not started again",
            events: [.start, .remoteChecked(reachable: true, detail: nil), .ended(output: denied), .start],
            expected: [],
            phase: .failed(
                "ssh to bastion: authentication refused (deploy@bastion: Permission denied (publickey).); check user, identity_file and the agent, devhost will not retry"
            )),
        Case(
            name: "clocks that agree say nothing",
            events: [.clocks(monotonic: t0, wallSeconds: 1000), .clocks(monotonic: t0 + .seconds(1), wallSeconds: 1001)], expected: [],
            phase: .idle),
        Case(
            name: "a wall clock far ahead of the monotonic one is a suspend: check now",
            events: [.clocks(monotonic: t0, wallSeconds: 1000), .clocks(monotonic: t0 + .seconds(1), wallSeconds: 1600)],
            expected: [.checkNow], phase: .idle),
        Case(
            name: "a small drift is not a suspend",
            events: [.clocks(monotonic: t0, wallSeconds: 1000), .clocks(monotonic: t0 + .seconds(1), wallSeconds: 1002.5)], expected: [],
            phase: .idle),
    ]

    @Test(arguments: cases) func decides(_ test: Case) {
        var machine = ForwardLifecycle(host: "bastion")
        var last: [Action] = []
        for event in test.events { last = machine.handle(event) }
        #expect(last == test.expected)
        #expect(machine.phase == test.phase)
    }

    static let keyExchangeClosed = [
        "kex_exchange_identification: Connection closed by remote host", "Connection closed by 127.0.0.1 port 22",
    ]

    /// ssh turned away by a remote that accepts TCP (sshd past MaxStartups): waiting, never a crash,
    /// retried after 250 ms doubling to 5 s, each delay within ±50 % and different from forward to forward.
    @Test func aRefusalByAReachableRemoteIsWaitedOutWithGrowingJitteredDelays() {
        var machine = ForwardLifecycle(host: "bastion", seed: 7)
        _ = machine.handle(.start)
        #expect(machine.handle(.remoteChecked(reachable: true, detail: nil)) == [.connect])
        var delays: [Duration] = []
        for _ in 1...7 {
            #expect(machine.handle(.ended(output: Self.keyExchangeClosed)) == [.checkRemote(after: .zero)])
            let actions = machine.handle(.remoteChecked(reachable: true, detail: nil))
            guard actions.count == 2, case .waitForRemote(let reason) = actions[0], case .checkRemote(let delay) = actions[1] else {
                Issue.record("expected waiting and a delayed check, got \(actions)")
                return
            }
            #expect(reason == "bastion: Connection closed by 127.0.0.1 port 22")
            #expect(machine.phase == .waitingForRemote)
            delays.append(delay)
            #expect(machine.handle(.remoteChecked(reachable: true, detail: nil)) == [.connect])
        }
        let bases: [Duration] = [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)]
        for (delay, base) in zip(delays, bases) { #expect(delay >= base * 0.5 && delay < base * 1.5, "\(delay) for \(base)") }
        #expect(machine.refusals == 7)
        _ = machine.handle(.connected(at: Self.t0))
        #expect(machine.refusals == 0, "a tunnel that came up starts the delays over")
        // Twenty forwards that lost one master together: their first retries are spread out.
        let firsts = (1...20).map { seed -> Duration in
            var each = ForwardLifecycle(host: "bastion", seed: UInt64(seed))
            _ = each.handle(.start)
            _ = each.handle(.remoteChecked(reachable: true, detail: nil))
            _ = each.handle(.ended(output: Self.keyExchangeClosed))
            guard case .checkRemote(let delay) = each.handle(.remoteChecked(reachable: true, detail: nil)).last else { return .zero }
            return delay
        }
        #expect(Set(firsts).count == 20)
        #expect(firsts.allSatisfy { $0 >= .milliseconds(125) && $0 < .milliseconds(375) })
    }

    struct SharingCase: Sendable, CustomTestStringConvertible {
        var name: String
        /// `begin` (remote, ms) or `finish` (remote, problem, ms) in order; the last `begin`'s decision is checked.
        var steps: [(String, String?, Int, Bool)]
        var expected: RemoteChecks.Decision
        var testDescription: String { name }
    }

    static let sharing: [SharingCase] = [
        SharingCase(name: "the first asker connects", steps: [("a", nil, 0, true)], expected: .probe),
        SharingCase(name: "a second asker joins the check under way", steps: [("a", nil, 0, true), ("a", nil, 5, true)], expected: .join),
        SharingCase(name: "another remote is checked on its own", steps: [("a", nil, 0, true), ("b", nil, 5, true)], expected: .probe),
        SharingCase(
            name: "a fresh answer is reused", steps: [("a", nil, 0, true), ("a", "refused", 40, false), ("a", nil, 200, true)],
            expected: .reuse("refused")),
        SharingCase(
            name: "an answer 250 ms old is asked again", steps: [("a", nil, 0, true), ("a", nil, 40, false), ("a", nil, 290, true)],
            expected: .probe),
        SharingCase(
            name: "an answer from before what prompted the check is asked again",
            steps: [("a", nil, 0, true), ("a", nil, 40, false), ("a@60", nil, 100, true)], expected: .probe),
        SharingCase(
            name: "an answer from since then is reused",
            steps: [("a", nil, 0, true), ("a", nil, 40, false), ("a@30", nil, 100, true)], expected: .reuse(nil)),
    ]

    @Test(arguments: sharing) func remoteChecksAreShared(_ test: SharingCase) {
        var checks = RemoteChecks()
        var last: RemoteChecks.Decision?
        for (remote, problem, ms, isBegin) in test.steps {
            let now = Self.t0 + .milliseconds(ms)
            // "remote@ms": the check is about what happened at ms.
            let parts = remote.split(separator: "@").map(String.init)
            let since = parts.count > 1 ? Int(parts[1]).map { Self.t0 + .milliseconds($0) } : nil
            if isBegin {
                last = checks.begin(parts[0], at: now, since: since)
            } else {
                checks.finish(remote, problem: problem, at: now)
            }
        }
        #expect(last == test.expected)
    }

    @Test func classifiesWhatSSHAndKubectlSay() {
        let table: [([String], String)] = [
            (Self.hostKey, "hostKey"),
            (
                [
                    "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.",
                    "Host key verification failed.",
                ], "hostKey"
            ),
            (Self.denied, "authentication"),
            (["Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures"], "authentication"),
            (["ssh: Could not resolve hostname bastion.example.com: Name or service not known"], "unreachable"),
            (Self.refused, "unreachable"),
            (["Timeout, server bastion not responding."], "unreachable"),
            (["E1206 12:00:00 portforward.go:413] error: dial tcp 10.0.0.1:6443: connect: connection refused"], "unreachable"),
            (["error: error upgrading connection: pods \"kafka-0\" not found"], "other"),
            (Self.forwardRefused, "other"),
            ([], "other"),
        ]
        for (lines, kind) in table {
            let found: String
            switch ForwardFailure.classify(lines, host: "h") {
            case .hostKey: found = "hostKey"
            case .authentication: found = "authentication"
            case .unreachable: found = "unreachable"
            case .other: found = "other"
            }
            #expect(found == kind, "\(lines)")
        }
    }

    @Test func sshCommandLinesShareOneMasterPerDestination() {
        let ssh = SSHForward(
            host: "bastion.example.com", user: "deploy", port: 2222, jump: ["gate.example.com", "ops@inner:2200"],
            identityFile: "~/.ssh/team", remoteHost: "db.internal", remotePort: 5432)
        let command = ForwardCommand(ssh: ssh, configFile: nil, controlDirectory: "/run/user/1000/devhost-ssh-1000")
        #expect(
            command.master == [
                "ssh", "-M", "-N", "-o", "ControlPath=\(command.controlPath)", "-p", "2222", "-l", "deploy", "-o", "ControlMaster=yes",
                "-o",
                "ControlPersist=no", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o",
                "ServerAliveCountMax=2", "-o", "ConnectTimeout=10", "-J", "gate.example.com,ops@inner:2200", "-i", "~/.ssh/team",
                "bastion.example.com",
            ])
        #expect(
            command.control("forward", inner: 40001) == [
                "ssh", "-o", "ControlPath=\(command.controlPath)", "-p", "2222", "-l", "deploy", "-o", "BatchMode=yes", "-O", "forward",
                "-L",
                "127.0.0.1:40001:db.internal:5432", "bastion.example.com",
            ])
        var other = ssh
        other.remoteHost = "cache.internal"
        other.remotePort = 6379
        let second = ForwardCommand(ssh: other, configFile: nil, controlDirectory: command.controlDirectory)
        #expect(second.controlPath == command.controlPath, "another remote behind the same host shares the master")
        other.user = "someone-else"
        #expect(
            ForwardCommand(ssh: other, configFile: nil, controlDirectory: "/d").controlPath != "/d/" + command.controlPath.split(
                separator: "/"
            ).last!)
        #expect(command.controlPath.utf8.count < 100)
        var v6 = ssh
        v6.remoteHost = "::1"
        #expect(ForwardCommand(ssh: v6, configFile: nil, controlDirectory: "/d").localForward(inner: 1) == "127.0.0.1:1:[::1]:5432")
    }

    @Test func firstHopComesFromSSHsResolvedConfig() {
        let direct = ["user deploy", "hostname 10.1.2.3", "port 2222", "proxyjump none", "proxycommand none"]
        #expect(ForwardCommand.firstHop(fromResolved: direct).map { "\($0.host):\($0.port):\($0.jump ?? "-")" } == "10.1.2.3:2222:-")
        let jumped = ["hostname db-bastion", "port 22", "proxyjump ops@gate:2200,inner"]
        #expect(ForwardCommand.firstHop(fromResolved: jumped)?.jump == "ops@gate:2200")
        #expect(ForwardCommand.firstHop(fromResolved: ["hostname x", "proxycommand nc %h %p"]) == nil)
        #expect(ForwardCommand.splitJump("ops@gate:2200") == ("ops@gate", 2200))
        #expect(ForwardCommand.splitJump("gate") == ("gate", nil))
        #expect(ForwardCommand.splitJump("[::1]:22") == ("::1", 22))
        #expect(ForwardCommand.splitJump("fe80::1") == ("fe80::1", nil))
    }

    @Test func kubectlCommandLineAndServerAddress() {
        let kube = KubectlForward(context: "staging", namespace: "data", target: "svc/kafka", remotePort: 9092)
        #expect(
            kube.portForward(inner: 40002) == [
                "kubectl", "--context", "staging", "--namespace", "data", "port-forward", "--address", "127.0.0.1", "svc/kafka",
                "40002:9092",
            ])
        #expect(KubectlForward.serverAddress("https://10.0.0.1:6443").map { "\($0.host):\($0.port)" } == "10.0.0.1:6443")
        #expect(KubectlForward.serverAddress("https://kube.example.com").map { "\($0.host):\($0.port)" } == "kube.example.com:443")
        #expect(KubectlForward.serverAddress("") == nil)
    }

    @Test func theControlFolderIsPrivate() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-ctl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let folder = try ControlDirectory.prepare(base: base)
        var info = stat()
        #expect(stat(folder, &info) == 0 && info.st_mode & 0o777 == 0o700)
        chmod(folder, 0o755)
        #expect(throws: ForwardError.self) { try ControlDirectory.prepare(base: base) }
    }
}
