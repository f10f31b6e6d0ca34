import Foundation
import Testing

@testable import DevhostRuntime

/// `devhost top`'s screen as a pure function of its model, its keys, and the CPU share it computes.
@Suite("devhost top: screen, keys, CPU")
struct TopScreenTests {
    static func instance(_ label: String, pid: Int32?, state: String = "healthy", ok: Bool = true, restarts: Int = 0)
        -> StatusReport.InstanceStatus
    {
        StatusReport.InstanceStatus(
            label: label, index: Int(label.split(separator: ".").last.flatMap { Int($0) } ?? 1), pid: pid,
            port: pid.map { Int($0) + 40000 },
            state: state, health: ok ? "ok" : "failing", ok: ok, failed: !ok, restarts: restarts, uptimeSeconds: 192)
    }

    static let report = StatusReport(
        project: "shop", directory: "/tmp/shop", pid: 100, startedAt: Date(timeIntervalSince1970: 0), ready: true, ok: false,
        proxy: .init(bind: "127.0.0.1", port: 7777, domain: "localhost"),
        services: [
            .init(
                name: "api", routes: ["http://api.shop.localhost:7777"], port: 5000,
                instances: [instance("api.1", pid: 1201), instance("api.2", pid: 1202, state: "unhealthy", ok: false, restarts: 3)]),
            .init(name: "worker", routes: [], port: nil, instances: [instance("worker.1", pid: 1300, state: "stopped", ok: true)]),
            .init(name: "admin", routes: ["http://admin.shop.localhost:7777"], port: nil, instances: []),
        ])

    static func model(width: Int = 120, height: Int = 20, colored: Bool = false) -> TopModel {
        var model = TopModel(width: width, height: height, colored: colored)
        model.update(report: report, problem: nil, stats: [1201: (cpu: 2.5, rss: 12 * 1024 * 1024), 1202: (cpu: nil, rss: 800 * 1024)])
        model.logs = [
            LogLine(time: "2026-12-06 14:00:01.123", service: "api", label: "api.1", text: "GET / 200"),
            LogLine(time: "2026-12-06 14:00:02.456", service: "api", label: "devhost", text: "api.2 unhealthy: \u{1B}[31mrefused\u{1B}[0m"),
        ]
        return model
    }

    @Test("exactly one line a row, none wider than the terminal, the help line last")
    func fitsTheTerminal() {
        for (width, height) in [(120, 20), (80, 24), (40, 8), (200, 50)] {
            let lines = TopScreen.render(Self.model(width: width, height: height))
            #expect(lines.count == height)
            #expect(lines.allSatisfy { $0.count <= width }, "\(width)x\(height): \(lines.filter { $0.count > width })")
            #expect(lines.last?.hasPrefix("↑↓/jk select") == true)
        }
        #expect(TopScreen.render(Self.model(width: 10, height: 3)) == ["terminal …", "", ""])
    }

    @Test("the table shows state, health, port, URL, restarts, CPU and RSS; the selection is marked; a service with no instance says so")
    func tableContent() {
        let lines = TopScreen.render(Self.model())
        #expect(lines[0].hasPrefix("devhost top · shop · pid 100 · 3 services, 3 instances · 1 not fine"), "\(lines[0])")
        #expect(lines[1].hasPrefix(" SERVICE  INSTANCE  PID   STATE"), "\(lines[1])")
        let api1 = lines[2]
        for text in [">api", "api.1", "1201", "healthy", "ok", "41201", "2.5", "12.0M", "3m12s", "http://api.shop.localhost:7777"] {
            #expect(api1.contains(text), "row lacks \(text): \(api1)")
        }
        #expect(lines[3].contains("api.2") && lines[3].contains("unhealthy") && lines[3].contains("800K") && lines[3].contains(" 3 "))
        #expect(lines[3].hasPrefix(" api"))
        #expect(lines[5].contains("admin") && lines[5].contains("not started") && lines[5].contains("http://admin.shop.localhost:7777"))
        // Narrower: uptime, then health, then port make room for the URL.
        let narrow = TopScreen.render(Self.model(width: 112))
        #expect(
            !narrow[1].contains("UPTIME") && narrow[1].contains("HEALTH") && narrow[2].contains("http://api.shop.localhost:7777"),
            "\(narrow)")
        let narrower = TopScreen.render(Self.model(width: 80))
        #expect(!narrower[1].contains("HEALTH") && !narrower[1].contains("PORT") && narrower[1].contains("RESTARTS"), "\(narrower)")
    }

    @Test("NO_COLOR: not one escape; colour: the selected row in reverse video, a failing one red")
    func colour() {
        #expect(!TopScreen.render(Self.model()).joined().contains("\u{1B}"), "escapes under NO_COLOR (the log's own escapes too)")
        let coloured = TopScreen.render(Self.model(colored: true))
        #expect(coloured[2].hasPrefix("\u{1B}[7m>api"))
        #expect(coloured[3].hasPrefix("\u{1B}[31m api"))
        #expect(coloured[4].hasPrefix("\u{1B}[2m worker"))
    }

    @Test("the log pane: the selected service's lines without escapes, filtered, toggled off")
    func logPane() {
        var model = Self.model()
        var lines = TopScreen.render(model)
        #expect(lines.contains { $0.hasPrefix("── api logs ──") })
        #expect(lines.contains("14:00:01.123 api.1 | GET / 200"))
        #expect(lines.contains("14:00:02.456 devhost | api.2 unhealthy: refused"))
        model.filter = "REFUSED"
        lines = TopScreen.render(model)
        #expect(lines.contains { $0.hasPrefix("── api logs (filter: REFUSED) ──") })
        #expect(!lines.contains { $0.contains("GET / 200") } && lines.contains { $0.contains("unhealthy: refused") })
        model.editingFilter = true
        #expect(TopScreen.render(model)[model.height - 2].hasPrefix("/REFUSED"))
        model.showLogs = false
        lines = TopScreen.render(model)
        #expect(!lines.contains { $0.contains("── api logs") || $0.contains("refused") })
    }

    @Test("the selection moves within the rows, scrolls into view and follows its instance across updates")
    func selection() {
        var model = Self.model(height: 8)
        model.move(-5)
        #expect(model.selected == 0)
        model.move(10)
        #expect(model.selectedRow?.service == "admin")
        let lines = TopScreen.render(model)
        #expect(lines.contains { $0.hasPrefix(">admin") }, "the selection scrolled out of view: \(lines)")
        model.move(-2)
        #expect(model.selectedRow?.instance?.label == "api.2")
        // api.1 disappears (scaled down): the selection stays on api.2.
        var report = Self.report
        report.services[0].instances.removeFirst()
        model.update(report: report, problem: nil, stats: [:])
        #expect(model.selectedRow?.instance?.label == "api.2")
        model.update(report: nil, problem: "devhost is not running here", stats: [:])
        #expect(model.rows.isEmpty && model.selected == 0)
        #expect(TopScreen.render(model).contains { $0.contains("waiting for devhost") })
    }

    @Test("keys: arrows in both cursor modes, page and home keys, letters, Enter, Esc, Backspace, Ctrl-C, UTF-8")
    func keys() {
        let bytes: [UInt8] = Array("\u{1B}[A\u{1B}OB\u{1B}[5~\u{1B}[6~\u{1B}[H\u{1B}[4~jk/\r\u{7F}\u{3}é".utf8) + [0x1B]
        #expect(
            TopKeyDecoder.decode(bytes) == [
                .up, .down, .pageUp, .pageDown, .home, .end, .character("j"), .character("k"), .character("/"), .enter, .backspace,
                .interrupt, .character("é"), .escape,
            ])
        #expect(TopKeyDecoder.decode(Array("\u{1B}[1;5C".utf8)) == [], "unknown sequences are ignored whole")
    }

    @Test("CPU per cent from two samples: ticks over time, per core")
    func cpuShare() {
        let start = ContinuousClock.now
        let old = ProcessSample(ticks: 1000, residentBytes: 0, at: start)
        let new = ProcessSample(ticks: 1050, residentBytes: 0, at: start + .seconds(2))
        #expect(ProcessSample.cpuPercent(from: old, to: new, ticksPerSecond: 100) == 25)
        #expect(ProcessSample.cpuPercent(from: new, to: old, ticksPerSecond: 100) == 0)
        #expect(ProcessSample.cpuPercent(from: old, to: old, ticksPerSecond: 100) == 0)
    }

    @Test("the sampler reads this process's CPU and RSS from /proc, including its children")
    func samplerReadsProc() throws {
        let sampler = ProcessSampler()
        let me = getpid()
        let first = try #require(sampler.sample([me])[me])
        #expect(first.cpu == nil && first.rss > 1024 * 1024)
        var spin = 0.0
        let deadline = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < deadline { spin += sin(spin) }
        let second = try #require(sampler.sample([me])[me])
        #expect((second.cpu ?? 0) > 10, "a busy loop of 200 ms should show: \(second.cpu ?? -1) (\(spin))")
        #expect(sampler.sample([999_999_999]).isEmpty)
    }

    @Test(
        "top reads the status as StatusReport.decode does, without JSONDecoder and its date without ICU; anything but a UTC ISO 8601 time is refused"
    )
    func statusDecodedWithoutICU() throws {
        var report = Self.report
        report.startedAt = Date(timeIntervalSince1970: 1_765_033_318)
        let data = Data(report.json().utf8)
        #expect(try TopApp.decodeStatus(data) == report)
        #expect(try TopApp.decodeStatus(data) == StatusReport.decode(data))
        #expect(TopApp.utcDate("2025-12-06T15:01:58Z") == Date(timeIntervalSince1970: 1_765_033_318))
        for text in ["2025-12-06T15:01:58+01:00", "2025-12-06 15:01:58", "yesterday", ""] {
            #expect(TopApp.utcDate(text) == nil, "\(text)")
        }
        let bad = Data(report.json().replacingOccurrences(of: "2025-12-06T15:01:58Z", with: "soon").utf8)
        #expect(throws: StatusJSONError(message: "started_at: not an ISO 8601 UTC time: soon")) { try TopApp.decodeStatus(bad) }
        #expect(throws: DecodingError.self) { try StatusReport.decode(bad) }
    }

    @Test("the sampler's numbers: decimal digits only")
    func samplerNumbers() {
        #expect(ProcessSampler.number(Array("12345".utf8)[...]) == 12345)
        #expect(ProcessSampler.number(Array("-1".utf8)[...]) == nil)
        #expect(ProcessSampler.number(Array("".utf8)[...]) == nil)
        #expect(ProcessSampler.number(Array("12a".utf8)[...]) == nil)
        #expect(ProcessSampler.number(Array("99999999999999999999".utf8)[...]) == nil)
    }

    @Test("numbers without String(format:): CPU, sizes and uptimes as printf would print them")
    func numbersAsPrintf() {
        for value in [0.0, 0.04, 0.06, 1.0, 2.5, 12.34, 99.96, 150.0] {
            #expect(TopScreen.decimal(value, places: 1) == String(format: "%.1f", value), "\(value)")
            #expect(TopScreen.decimal(value, places: 0) == String(format: "%.0f", value), "\(value)")
        }
        #expect(TopScreen.bytes(800 * 1024) == "800K")
        #expect(TopScreen.bytes(12 * 1024 * 1024 + 400 * 1024) == "12.4M")
        #expect(TopScreen.bytes(3 * 1024 * 1024 * 1024) == "3.0G")
        #expect(TopScreen.uptime(192) == "3m12s" && TopScreen.uptime(3605) == "1h00m" && TopScreen.uptime(7 * 86400 + 7200) == "7d2h")
        #expect(TopScreen.clean("a\tb\u{7}c\u{1B}[31md") == "a    bcd")
    }

    @Test("a log file's line splits at the first ' | ' after the time, found in its bytes")
    func logLineSplit() throws {
        let line = try #require(LogLine(fileLine: "2026-12-06 14:00:01.123 api.1 |  a || b | c", service: "api"))
        #expect(line.time == "2026-12-06 14:00:01.123" && line.label == "api.1" && line.text == " a || b | c")
        let unicode = try #require(LogLine(fileLine: "2026-12-06 14:00:01.123 café.1 | naïve ✓", service: "café"))
        #expect(unicode.label == "café.1" && unicode.text == "naïve ✓")
        let empty = try #require(LogLine(fileLine: "2026-12-06 14:00:01.123 api.1 | ", service: "api"))
        #expect(empty.text.isEmpty)
        for broken in [
            "2026-12-06 14:00:01.123 api.1 |", "2026-12-06 14:00:01.123 api.1 || x", "2026-12-06 14:00:01.123 api.1|x", "short | x",
        ] {
            #expect(LogLine(fileLine: Substring(broken), service: "api") == nil, "\(broken)")
        }
    }
}
