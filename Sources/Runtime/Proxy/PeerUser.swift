import Foundation

/// Who is on the other end of a loopback TCP connection: the kernel's socket tables list the uid
/// that owns each socket, including the client's end of a connection to us.
enum PeerUser {
    /// The uid owning the loopback client socket `clientPort` → `serverPort`, or nil when it is not
    /// a local connection (or not found).
    static func uid(clientPort: Int, serverPort: Int) -> uid_t? {
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = PortScanner.readProcFile(table)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 7, port(of: fields[1]) == clientPort, port(of: fields[2]) == serverPort else { continue }
                return uid_t(fields[7])
            }
        }
        return nil
    }

    private static func port(of address: Substring) -> Int? {
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...], radix: 16)
    }
}
