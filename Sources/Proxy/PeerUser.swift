import Foundation
import NIOCore

/// Who is on the other end of a loopback TCP connection: the kernel's socket tables list the uid
/// that owns each socket, including the client's end of a connection to us.
enum PeerUser {
    /// The uid owning the client socket of the connection `client` → `server` (addresses as this
    /// side sees them), or nil when it is not found.
    ///
    /// The whole connection is matched, both addresses and both ports: the tables are
    /// world-readable, and matching ports alone let another user bind the owner's client port on
    /// another loopback address (127.0.0.2) and be taken for the owner.
    static func uid(client: SocketAddress, server: SocketAddress) -> uid_t? {
        guard let local = entry(client), let remote = entry(server) else { return nil }
        let table: String
        switch client {
        case .v4: table = "/proc/net/tcp"
        case .v6: table = "/proc/net/tcp6"
        case .unixDomainSocket: return nil
        }
        return uid(in: ProcFile.read(table), local: local, remote: remote)
    }

    /// The uid on the row whose local and remote columns are exactly these (`ADDRESS:PORT` as
    /// the kernel prints them).
    static func uid(in text: String, local: String, remote: String) -> uid_t? {
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 7, fields[1] == local, fields[2] == remote else { continue }
            return uid_t(fields[7])
        }
        return nil
    }

    /// An address as /proc/net/tcp{,6} print it: each 32-bit word of the address as it lies in
    /// memory, read as a native integer, in hex (%08X), then the port in hex (%04X).
    static func entry(_ address: SocketAddress) -> String? {
        guard let port = address.port else { return nil }
        switch address {
        case .v4(let v4):
            return String(format: "%08X:%04X", v4.address.sin_addr.s_addr, port)
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let words = withUnsafeBytes(of: &raw) { bytes in (0..<4).map { bytes.load(fromByteOffset: $0 * 4, as: UInt32.self) } }
            return words.map { String(format: "%08X", $0) }.joined() + String(format: ":%04X", port)
        case .unixDomainSocket:
            return nil
        }
    }
}
