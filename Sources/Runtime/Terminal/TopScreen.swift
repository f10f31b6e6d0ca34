import Foundation

/// Draws a `TopModel` as exactly `height` lines, none wider than `width` columns: the title, the
/// table of instances, the selected service's log pane, a message line and the help line. Colour
/// (SGR escapes) only when the model says so; the selection is also marked with `>` so it shows
/// under `NO_COLOR`.
public enum TopScreen {
    public static let help = "↑↓/jk select  r restart  s stop/start  l logs  / filter  q quit"

    static let headers = ["SERVICE", "INSTANCE", "PID", "STATE", "HEALTH", "PORT", "CPU%", "RSS", "RESTARTS", "UPTIME", "URL"]
    /// Left out, in this order, while a row with its URL is wider than the terminal.
    static let dropOrder = ["UPTIME", "HEALTH", "PORT"]

    public static func render(_ model: TopModel) -> [String] {
        let width = max(model.width, 1)
        guard model.height >= 6, width >= 20 else {
            return (0..<max(model.height, 1)).map { $0 == 0 ? fit("terminal too small", width) : "" }
        }
        var lines: [String] = [title(model, width: width)]
        let body = model.height - 3
        let table = rows(model)
        // The table gets what it needs up to half the body when the log pane is open.
        let tableHeight = model.showLogs ? min(max(table.count, 1) + 1, max(2, body / 2)) : body
        lines += tableLines(model, table, height: tableHeight, width: width)
        if model.showLogs {
            lines += logPane(model, height: body - tableHeight, width: width)
        } else {
            lines += Array(repeating: "", count: body - tableHeight)
        }
        if model.editingFilter {
            lines.append(fit("/" + model.filter + "▏  (Enter keeps it, Esc clears it)", width))
        } else {
            lines.append(
                paint(fit(model.message ?? model.problem ?? "", width), model.problem != nil && model.message == nil ? "33" : nil, model))
        }
        lines.append(paint(fit(help, width), "2", model))
        return lines
    }

    static func title(_ model: TopModel, width: Int) -> String {
        var left = "devhost top"
        if let report = model.report {
            let instances = report.services.flatMap(\.instances)
            let bad = instances.filter { !$0.ok }.count
            left +=
                " · \(report.project) · pid \(report.pid) · \(count(report.services.count, "service")), \(count(instances.count, "instance"))"
            left += bad == 0 ? (instances.isEmpty ? "" : " · all fine") : " · \(bad) not fine"
            if let proxy = report.proxy { left += " · dashboard http://devhost.\(proxy.domain):\(proxy.port)/" }
        }
        let right = model.clock
        let gap = width - left.count - right.count
        let text = gap >= 1 ? left + String(repeating: " ", count: gap) + right : fit(left, width)
        return paint(text, "1;7", model)
    }

    static func rows(_ model: TopModel) -> [[String]] {
        model.rows.enumerated().map { index, row in
            let marker = index == model.selected ? ">" : " "
            guard let instance = row.instance else {
                return [marker + row.service, "-", "-", "not started", "-", "-", "-", "-", "-", "-", row.route ?? "-"]
            }
            return [
                marker + row.service, instance.label, instance.pid.map(String.init) ?? "-", instance.state, instance.health,
                instance.port.map(String.init) ?? "-", row.cpu.map { decimal($0, places: 1) } ?? "-", row.rss.map(bytes) ?? "-",
                String(instance.restarts), instance.uptimeSeconds.map(uptime) ?? "-", row.route ?? "-",
            ]
        }
    }

    static func tableLines(_ model: TopModel, _ table: [[String]], height: Int, width: Int) -> [String] {
        let header = [" " + headers[0]] + headers.dropFirst()
        let widths = header.indices.map { column in ([header] + table).map { $0[column].count }.max() ?? 0 }
        // The URL is what people copy: when it would not fit, the least needed columns make room.
        var kept = Array(header.indices)
        for name in dropOrder {
            let used = kept.dropLast().map { widths[$0] + 2 }.reduce(0, +) + widths[header.count - 1]
            guard used > width, let column = headers.firstIndex(of: name) else { break }
            kept.removeAll { $0 == column }
        }
        func line(_ cells: [String]) -> String {
            fit(kept.map { $0 == cells.count - 1 ? cells[$0] : pad(cells[$0], widths[$0]) }.joined(separator: "  "), width)
        }
        var lines = [paint(line(header), "1", model)]
        let visible = max(height - 1, 0)
        // Scrolls so the selection stays in view.
        let first = max(0, min(model.selected - visible + 1, table.count - visible))
        for index in first..<min(first + visible, table.count) {
            let row = model.rows[index]
            var style: String?
            if row.instance == nil || row.instance?.state == "stopped" {
                style = "2"
            } else if row.instance?.ok == false {
                style = "31"
            }
            if index == model.selected { style = (style.map { $0 + ";" } ?? "") + "7" }
            lines.append(paint(line(table[index]), style, model))
        }
        if table.isEmpty, visible > 0 {
            lines.append(fit(model.problem == nil ? " (no services)" : " waiting for devhost…", width))
        }
        return lines + Array(repeating: "", count: max(0, height - lines.count))
    }

    static func logPane(_ model: TopModel, height: Int, width: Int) -> [String] {
        guard height > 0 else { return [] }
        let service = model.selectedRow?.service ?? "-"
        var heading = "── \(service) logs"
        if !model.filter.isEmpty { heading += " (filter: \(model.filter))" }
        heading += " "
        let rule = heading.count < width ? heading + String(repeating: "─", count: width - heading.count) : fit(heading, width)
        let shown = model.visibleLogs.suffix(height - 1)
        var lines = [paint(rule, "2", model)]
        for line in shown {
            // Time without the date: the pane is narrow, and the day is today.
            let time = line.time.count >= 23 ? String(line.time.dropFirst(11)) : line.time
            lines.append(fit("\(time) \(line.label) | \(clean(line.text))", width))
        }
        return lines + Array(repeating: "", count: height - lines.count)
    }

    /// Service output without escapes or control characters, which would move the cursor.
    static func clean(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in ANSIText.strip(text).unicodeScalars {
            if scalar == "\t" {
                scalars.append(contentsOf: "    ".unicodeScalars)
            } else if scalar.value >= 0x20, scalar.value != 0x7F {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    static func fit(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(width - 1, 0))) + "…"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func paint(_ text: String, _ style: String?, _ model: TopModel) -> String {
        guard model.colored, let style, !text.isEmpty else { return text }
        return "\u{1B}[\(style)m\(text)\u{1B}[0m"
    }

    static func count(_ value: Int, _ noun: String) -> String { "\(value) \(noun)\(value == 1 ? "" : "s")" }

    /// `812K`, `12.4M`, `1.2G`.
    static func bytes(_ value: UInt64) -> String {
        let kib = Double(value) / 1024
        if kib < 1024 { return decimal(kib, places: 0) + "K" }
        if kib < 1024 * 1024 { return decimal(kib / 1024, places: 1) + "M" }
        return decimal(kib / 1024 / 1024, places: 1) + "G"
    }

    /// `45s`, `3m12s`, `2h05m`, `3d4h` (as `devhost status`).
    static func uptime(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(twoDigits(total % 60))s" }
        if total < 86400 { return "\(total / 3600)h\(twoDigits(total % 3600 / 60))m" }
        return "\(total / 86400)d\(total % 86400 / 3600)h"
    }

    /// `value` rounded to `places` (0 or 1) decimals, as `%.0f`/`%.1f` print it (a tie after the
    /// multiplication by ten may round the other way). Not String(format:): CoreFoundation's
    /// formatter would stay mapped in top's memory.
    static func decimal(_ value: Double, places: Int) -> String {
        let scale = places == 0 ? 1.0 : 10.0
        let scaled = Int((max(value, 0) * scale).rounded(.toNearestOrEven))
        return places == 0 ? String(scaled) : "\(scaled / 10).\(scaled % 10)"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
}
