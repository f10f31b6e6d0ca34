import DevhostProxy
import Foundation

/// Finds the TCP ports a process group really listens on, from `/proc` (Linux).
///
/// `/proc/net/tcp` and `tcp6` list LISTEN sockets by inode; `/proc/PID/fd` links name the socket
/// inodes each process holds. Reading the two tables is cheap, so they are read every tick and the
/// per-process scan only runs when the set of listening sockets changed.
public struct PortScanner: Sendable {
    public struct Listener: Sendable, Hashable {
        public var port: Int
        public var inode: UInt64
    }

    public init() {}

    /// Every LISTEN socket on this machine's network namespace: inode → port.
    public func listeningSockets() -> [UInt64: Int] {
        var sockets: [UInt64: Int] = [:]
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = ProcFile.read(table)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A" else { continue }
                guard let colon = fields[1].lastIndex(of: ":"), let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16),
                    let inode = UInt64(fields[9]), inode != 0
                else { continue }
                sockets[inode] = port
            }
        }
        return sockets
    }

    /// The processes in each of the process groups `groups` (a service instance's whole tree, since
    /// each instance is its own session; a grandchild that calls setsid itself escapes, as with any
    /// process-group tool).
    public func members(ofGroups groups: Set<pid_t>) -> [pid_t: [pid_t]] {
        var result: [pid_t: [pid_t]] = [:]
        for entry in Self.entries(of: "/proc") {
            guard let pid = pid_t(entry) else { continue }
            let stat = ProcFile.read("/proc/\(pid)/stat")
            guard let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state ppid pgrp ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let group = pid_t(fields[2]), groups.contains(group) else { continue }
            result[group, default: []].append(pid)
        }
        return result
    }

    /// Socket inodes held open by `pid`.
    public func socketInodes(of pid: pid_t) -> Set<UInt64> {
        var inodes = Set<UInt64>()
        let folder = "/proc/\(pid)/fd"
        let fds = Self.entries(of: folder)
        var buffer = [CChar](repeating: 0, count: 64)
        for fd in fds {
            let length = readlink("\(folder)/\(fd)", &buffer, buffer.count - 1)
            guard length > 8 else { continue }
            buffer[length] = 0
            let target = String(cString: buffer)
            // "socket:[12345]"
            guard target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()) else { continue }
            inodes.insert(inode)
        }
        return inodes
    }

    /// The process holding a LISTEN socket on `port`, if any (for "port taken" errors).
    public func owner(ofPort port: Int) -> (pid: pid_t, command: String)? {
        let inodes = Set(listeningSockets().filter { $0.value == port }.keys)
        guard !inodes.isEmpty else { return nil }
        for entry in Self.entries(of: "/proc") {
            guard let pid = pid_t(entry), !socketInodes(of: pid).isDisjoint(with: inodes) else { continue }
            return (pid, commandLine(of: pid))
        }
        return (0, "a process devhost cannot see")
    }

    /// Directory entries, read with readdir so that entries vanishing meanwhile (fds closing, processes
    /// exiting) cost only themselves; Foundation's listing throws away the whole result on such a race.
    static func entries(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func commandLine(of pid: pid_t) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "?" }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }
}
