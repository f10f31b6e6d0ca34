import DevhostManifest
import Foundation

/// CPU and memory of an instance's processes, from /proc: the instance's pid and every process
/// below it (a shell's child, a server's workers), so `sh -c` wrappers do not hide the real cost.
public struct ProcessSample: Sendable, Equatable {
    /// User plus system time of the tree, in clock ticks.
    public var ticks: UInt64
    /// Resident memory of the tree, in bytes.
    public var residentBytes: UInt64
    /// When it was read.
    public var at: ContinuousClock.Instant

    public init(ticks: UInt64, residentBytes: UInt64, at: ContinuousClock.Instant) {
        self.ticks = ticks
        self.residentBytes = residentBytes
        self.at = at
    }

    /// Per cent of one core between two samples of the same tree.
    public static func cpuPercent(from old: ProcessSample, to new: ProcessSample, ticksPerSecond: Double) -> Double {
        let seconds = Double(DurationText.millisecondsExact(new.at - old.at)) / 1000
        guard seconds > 0, new.ticks >= old.ticks else { return 0 }
        return Double(new.ticks - old.ticks) / ticksPerSecond / seconds * 100
    }
}

/// Reads /proc once a refresh and keeps the previous sample of each pid for the CPU share.
public final class ProcessSampler {
    private var previous: [Int32: ProcessSample] = [:]
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    public init() {}

    /// CPU per cent (nil on a pid's first sample) and RSS for each pid.
    public func sample(_ pids: [Int32]) -> [Int32: (cpu: Double?, rss: UInt64)] {
        var next: [Int32: ProcessSample] = [:]
        var result: [Int32: (cpu: Double?, rss: UInt64)] = [:]
        let now = ContinuousClock.now
        for pid in pids {
            guard let sample = read(tree: pid, at: now) else { continue }
            next[pid] = sample
            let cpu = previous[pid].map { ProcessSample.cpuPercent(from: $0, to: sample, ticksPerSecond: ticksPerSecond) }
            result[pid] = (cpu, sample.residentBytes)
        }
        previous = next
        return result
    }

    func read(tree root: Int32, at now: ContinuousClock.Instant) -> ProcessSample? {
        guard let own = Self.stat(root) else { return nil }
        var ticks = own.ticks
        var pages = own.pages
        var queue = Self.children(root)
        var seen: Set<Int32> = [root]
        // Bounded: a fork bomb under a service must not stall the screen.
        while let pid = queue.popLast(), seen.count < 512 {
            guard seen.insert(pid).inserted, let stat = Self.stat(pid) else { continue }
            ticks += stat.ticks
            pages += stat.pages
            queue += Self.children(pid)
        }
        return ProcessSample(ticks: ticks, residentBytes: pages * pageSize, at: now)
    }

    /// utime + stime (fields 14 and 15) and rss in pages (field 24) of /proc/PID/stat. The command
    /// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
    /// Bytes, not String(contentsOfFile:) and split: Foundation's file and string code would stay
    /// mapped in top's memory for one line of numbers (docs/top.md).
    static func stat(_ pid: Int32) -> (ticks: UInt64, pages: UInt64)? {
        guard let bytes = contents("/proc/\(pid)/stat"), let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // fields[0] is field 3 (state).
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 21, let user = number(fields[11]), let system = number(fields[12]), let rss = number(fields[21]) else {
            return nil
        }
        return (user + system, rss)
    }

    static func children(_ pid: Int32) -> [Int32] {
        guard let bytes = contents("/proc/\(pid)/task/\(pid)/children") else { return [] }
        return bytes.split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }.compactMap { number($0).map { Int32(clamping: $0) } }
    }

    /// A decimal number; nil for anything else (a negative rss reads as nil, as no sample).
    static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 19 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// A /proc file's bytes, read to its end.
    static func contents(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        var count = 0
        while true {
            if count == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let got = buffer.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            count += got
        }
        return count > 0 ? Array(buffer[..<count]) : nil
    }
}
