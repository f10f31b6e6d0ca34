import CDevhostSpawn
import DevhostManifest
import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// `devhost top`'s loop: status from the control socket once a second, CPU and RSS from /proc, the
/// selected service's log file followed four times a second, keys as they come. It sleeps in
/// poll(2) between those, so an idle screen costs almost nothing. Restart, stop and start run on a
/// thread of their own (a rolling restart takes seconds) while the screen keeps refreshing.
public final class TopApp {
    let state: ProjectState
    let client: ControlClient
    let terminal: TerminalSession
    var model: TopModel
    let sampler = ProcessSampler()
    var tail: LogTail?
    /// Signals and finished actions write a byte here to wake the loop.
    let wake: (read: Int32, write: Int32)
    let events = NIOLockedValueBox<[Event]>([])
    var busy = false

    enum Event: Sendable {
        case signal(Int32)
        case finished(String)
    }

    public init(state: ProjectState, colored: Bool) throws(TerminalError) {
        self.state = state
        self.client = ControlClient(state: state)
        self.terminal = TerminalSession()
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw TerminalError(message: "cannot make a pipe") }
        wake = (fds[0], fds[1])
        let size = terminal.size()
        model = TopModel(width: size.width, height: size.height, colored: colored)
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    public func run() throws(TerminalError) {
        let sources = [SIGINT, SIGTERM, SIGHUP, SIGWINCH].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let (events, wakeFD) = (events, wake.write)
            source.setEventHandler {
                events.withLockedValue { $0.append(.signal(number)) }
                var byte: UInt8 = 1
                _ = Foundation.write(wakeFD, &byte, 1)
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            for number in [SIGINT, SIGTERM, SIGHUP, SIGWINCH] { signal(number, SIG_DFL) }
        }
        try terminal.begin()
        defer { terminal.restore() }
        var nextStatus = ContinuousClock.now
        var nextLogs = ContinuousClock.now
        var full = true
        while true {
            let now = ContinuousClock.now
            if now >= nextStatus {
                refresh()
                nextStatus = now + .seconds(1)
            }
            if now >= nextLogs {
                followLogs()
                nextLogs = now + .milliseconds(250)
            }
            terminal.draw(TopScreen.render(model), full: full)
            full = false
            let wait = min(nextStatus, nextLogs) - ContinuousClock.now
            var fds = [
                pollfd(fd: terminal.input, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, Int32(max(0, DurationText.milliseconds(wait)) + 1))
            if ready < 0, errno != EINTR { return }
            if fds[0].revents & Int16(POLLIN | POLLHUP) != 0 {
                var buffer = [UInt8](repeating: 0, count: 256)
                let count = read(terminal.input, &buffer, buffer.count)
                // The terminal went away (its window closed): nothing left to draw on.
                if count <= 0 { return }
                for key in TopKeyDecoder.decode(Array(buffer[..<count])) {
                    if !handle(key) { return }
                }
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                _ = read(wake.read, &drain, drain.count)
                for event in events.withLockedValue({ list in
                    defer { list = [] }
                    return list
                }) {
                    switch event {
                    case .signal(SIGWINCH):
                        let size = terminal.size()
                        (model.width, model.height) = (size.width, size.height)
                        full = true
                    case .signal: return
                    case .finished(let message):
                        busy = false
                        model.message = message
                        nextStatus = .now
                    }
                }
            }
        }
    }

    /// Applies a key; false to quit.
    func handle(_ key: TopKey) -> Bool {
        if model.editingFilter {
            switch key {
            case .enter: model.editingFilter = false
            case .escape: (model.filter, model.editingFilter) = ("", false)
            case .backspace: if !model.filter.isEmpty { model.filter.removeLast() }
            case .character(let character): model.filter.append(character)
            case .interrupt: return false
            default: break
            }
            return true
        }
        let before = model.selectedRow?.service
        switch key {
        case .character("q"), .character("Q"), .interrupt: return false
        case .up, .character("k"): model.move(-1)
        case .down, .character("j"): model.move(1)
        case .pageUp: model.move(-10)
        case .pageDown: model.move(10)
        case .home, .character("g"): model.move(-model.rows.count)
        case .end, .character("G"): model.move(model.rows.count)
        case .character("l"): model.showLogs.toggle()
        case .character("/"): model.editingFilter = true
        case .escape: model.filter = ""
        case .character("r"): act("restart")
        case .character("s"):
            let row = model.selectedRow
            act(row?.instance == nil || row?.instance?.state == "stopped" ? "start" : "stop")
        default: break
        }
        if model.selectedRow?.service != before { followLogs() }
        return true
    }

    /// Sends restart/stop/start for the selected service on a thread; the answer wakes the loop.
    func act(_ action: String) {
        guard let service = model.selectedRow?.service else { return }
        guard !busy else {
            model.message = "busy: wait for the last action to finish"
            return
        }
        busy = true
        let verb = ["restart": "restarting", "stop": "stopping", "start": "starting"][action] ?? action
        model.message = "\(verb) \(service)…"
        let (client, events, wakeFD) = (client, events, wake.write)
        let encoded =
            service.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? service
        let thread = Thread {
            let message: String
            do {
                let response = try client.post("/v1/services/\(encoded)/\(action)")
                message = response.status == 200 ? response.message : "error: \(response.message)"
            } catch {
                message = "error: \(error)"
            }
            events.withLockedValue { $0.append(.finished(message)) }
            var byte: UInt8 = 1
            _ = Foundation.write(wakeFD, &byte, 1)
        }
        thread.start()
    }

    func refresh() {
        var report: StatusReport?
        var problem: String?
        do {
            let response = try client.get("/v1/status")
            report = try? StatusReport.decode(response.body)
            if report == nil { problem = "unexpected answer from devhost (\(response.status)): \(response.message)" }
        } catch {
            if case .notRunning = error {
                problem = "devhost is not running here (`devhost up -d` starts it); waiting for it…"
            } else {
                problem = "\(error)"
            }
        }
        let pids = report?.services.flatMap(\.instances).compactMap(\.pid) ?? []
        model.update(report: report, problem: problem, stats: sampler.sample(pids))
        model.clock = Self.clock()
    }

    /// `14:05:09`, local time. strftime rather than DateFormatter, which loads ICU's data: 5 MB of
    /// the screen's resident memory for one clock.
    static func clock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 16)
        let count = strftime(&buffer, buffer.count, "%H:%M:%S", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func followLogs() {
        guard let service = model.selectedRow?.service else {
            tail = nil
            model.logs = []
            return
        }
        if tail?.service != service { tail = LogTail(service: service, directory: state.logs) }
        if tail?.poll() == true || model.logs.count != tail?.lines.count || model.logs.last != tail?.lines.last {
            model.logs = tail?.lines ?? []
        }
    }
}
