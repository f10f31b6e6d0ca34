import Foundation

/// Everything `devhost top` shows, with no I/O: the screen is a pure function of this.
public struct TopModel: Sendable {
    /// One row of the table: an instance, or a service with none (not started).
    public struct Row: Sendable, Equatable {
        public var service: String
        public var instance: StatusReport.InstanceStatus?
        public var route: String?
        public var cpu: Double?
        public var rss: UInt64?
    }

    public var width: Int
    public var height: Int
    public var colored: Bool
    public var report: StatusReport?
    /// Why there is no report (devhost not running, an unexpected answer).
    public var problem: String?
    public var rows: [Row] = []
    public var selected = 0
    public var showLogs = true
    public var logs: [LogLine] = []
    /// The log pane's text filter (case-insensitive); `editingFilter` while `/` is being typed.
    public var filter = ""
    public var editingFilter = false
    /// The last action's outcome, or what is in progress.
    public var message: String?
    public var clock = ""

    public init(width: Int, height: Int, colored: Bool) {
        self.width = width
        self.height = height
        self.colored = colored
    }

    public var selectedRow: Row? { rows.indices.contains(selected) ? rows[selected] : nil }

    /// Takes a new report and the /proc figures, keeping the selection on the same service and
    /// instance when it still exists.
    public mutating func update(report: StatusReport?, problem: String?, stats: [Int32: (cpu: Double?, rss: UInt64)]) {
        let previous = selectedRow.map { ($0.service, $0.instance?.label) }
        self.report = report
        self.problem = problem
        rows = []
        for service in report?.services ?? [] {
            if service.instances.isEmpty {
                rows.append(Row(service: service.name, instance: nil, route: service.routes.first))
            }
            for (index, instance) in service.instances.enumerated() {
                let stat = instance.pid.flatMap { stats[$0] }
                rows.append(
                    Row(
                        service: service.name, instance: instance,
                        route: index < service.routes.count ? service.routes[index] : nil, cpu: stat?.cpu, rss: stat?.rss))
            }
        }
        if let previous {
            selected =
                rows.firstIndex { $0.service == previous.0 && $0.instance?.label == previous.1 }
                ?? rows.firstIndex { $0.service == previous.0 } ?? selected
        }
        selected = rows.isEmpty ? 0 : min(max(selected, 0), rows.count - 1)
    }

    public mutating func move(_ delta: Int) {
        guard !rows.isEmpty else { return }
        selected = min(max(selected + delta, 0), rows.count - 1)
    }

    /// The log lines the pane shows: the selected service's, through the filter.
    public var visibleLogs: [LogLine] {
        guard !filter.isEmpty else { return logs }
        return logs.filter { $0.text.range(of: filter, options: .caseInsensitive) != nil || $0.label.contains(filter) }
    }
}
