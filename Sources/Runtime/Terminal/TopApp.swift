import CDevhostSpawn
import DevhostManifest
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
    /// Wakes the loop: a signal's handler writes the signal's number, a finished action a 0 (its
    /// message is in `finished`).
    let wake: (read: Int32, write: Int32)
    let finished = NIOLockedValueBox<[String]>([])
    var busy = false
    static let signals = [SIGINT, SIGTERM, SIGHUP, SIGWINCH]

    public init(state: ProjectState, colored: Bool) throws(TerminalError) {
        self.state = state
        self.client = ControlClient(state: state)
        self.terminal = TerminalSession()
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw TerminalError(message: "cannot make a pipe") }
        wake = (fds[0], fds[1])
        // A full pipe must not block a signal handler (the loop reads one byte as well as many).
        _ = fcntl(wake.write, F_SETFL, fcntl(wake.write, F_GETFL) | O_NONBLOCK)
        let size = terminal.size()
        model = TopModel(width: size.width, height: size.height, colored: colored)
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    public func run() throws(TerminalError) {
        // Plain handlers that write to the pipe rather than Dispatch signal sources: those start a
        // Dispatch worker thread and keep its code mapped for as long as top runs (docs/top.md).
        topWakeFD = wake.write
        for number in Self.signals { signal(number, topSignalHandler) }
        defer {
            for number in Self.signals { signal(number, SIG_DFL) }
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
                let count = read(wake.read, &drain, drain.count)
                for byte in drain[..<max(count, 0)] where byte != 0 {
                    guard Int32(byte) == SIGWINCH else { return }
                    let size = terminal.size()
                    (model.width, model.height) = (size.width, size.height)
                    full = true
                }
                for message in finished.withLockedValue({ list in
                    defer { list = [] }
                    return list
                }) {
                    busy = false
                    model.message = message
                    nextStatus = .now
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
        let (client, finished, wakeFD) = (client, finished, wake.write)
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
            finished.withLockedValue { $0.append(message) }
            var byte: UInt8 = 0
            _ = Foundation.write(wakeFD, &byte, 1)
        }
        thread.start()
    }

    func refresh() {
        var report: StatusReport?
        var problem: String?
        do {
            let response = try client.get("/v1/status")
            report = try? Self.decodeStatus(response.body)
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

    /// The status as `StatusReport.decode` reads it, without Foundation's JSON: JSONDecoder (and
    /// its `.iso8601` dates, which set up ICU's calendar and time zones) was several MB of top's
    /// resident memory for one small answer a second. `StatusJSON` reads it; see docs/top.md.
    static func decodeStatus(_ data: Data) throws -> StatusReport {
        try StatusReport.read([UInt8](data))
    }

    /// `2026-12-06T15:21:58Z`, as the `.iso8601` strategy writes it; nil for anything else.
    static func utcDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        // The separators' places; digits everywhere else.
        let separators: [Int: UInt8] = [4: 45, 7: 45, 10: 84, 13: 58, 16: 58, 19: 90]
        guard bytes.count == 20 else { return nil }
        for (index, byte) in bytes.enumerated() {
            guard separators[index].map({ $0 == byte }) ?? (byte >= 48 && byte <= 57) else { return nil }
        }
        func field(_ from: Int, _ count: Int) -> Int32 { bytes[from..<from + count].reduce(0) { $0 * 10 + Int32($1 - 48) } }
        var parts = tm()
        (parts.tm_year, parts.tm_mon, parts.tm_mday) = (field(0, 4) - 1900, field(5, 2) - 1, field(8, 2))
        (parts.tm_hour, parts.tm_min, parts.tm_sec) = (field(11, 2), field(14, 2), field(17, 2))
        guard (0..<12).contains(parts.tm_mon), (1...31).contains(parts.tm_mday), parts.tm_hour < 24, parts.tm_min < 60,
            parts.tm_sec <= 60
        else { return nil }
        return Date(timeIntervalSince1970: Double(timegm(&parts)))
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

/// The wake pipe's write end, for the signal handler (a C function, which captures nothing). Set
/// before the handlers are installed.
nonisolated(unsafe) private var topWakeFD: Int32 = -1

/// Writes the signal's number to the wake pipe; write(2) is async-signal-safe, errno is kept.
private func topSignalHandler(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(topWakeFD, &byte, 1)
    errno = saved
}
