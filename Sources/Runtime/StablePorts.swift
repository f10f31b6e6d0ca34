import DevhostManifest
import Foundation

/// One loopback port per service that stays the same from run to run, kept in `.devhost/ports.json`,
/// so `${api.url}`, a database GUI or a bookmark keeps working across restarts of devhost.
public struct StablePorts: Sendable {
    public let file: String

    public init(stateDirectory: String) {
        file = stateDirectory + "/ports.json"
    }

    public func load() -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: file),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int]
        else { return [:] }
        return object
    }

    /// Keeps each recorded port that is still free; gives the others a new free port; saves the result.
    public func assign(_ services: [String], scanner: PortScanner = PortScanner(), avoiding reserved: Set<Int> = []) throws -> [String: Int]
    {
        var ports = load()
        let listening = Set(scanner.listeningSockets().values)
        var used = reserved
        for service in services {
            if let port = ports[service], !listening.contains(port), !used.contains(port) {
                used.insert(port)
                continue
            }
            var port = try freeLoopbackPort()
            while used.contains(port) { port = try freeLoopbackPort() }
            ports[service] = port
            used.insert(port)
        }
        let data = try JSONSerialization.data(withJSONObject: ports, options: [.sortedKeys, .prettyPrinted])
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(bytes: Array(data), to: file)
        return ports.filter { services.contains($0.key) }
    }
}

/// Asks the kernel for a free port on 127.0.0.1 (bind to port 0, read it back, release it).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}
