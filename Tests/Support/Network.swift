import Foundation

/// A port the OS just handed out on 127.0.0.1.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `url` with curl until it answers (any status) or `timeout` seconds pass; returns the status, 0 if none.
public func waitForHTTP(_ url: String, timeout: TimeInterval, while condition: () -> Bool = { true }) throws -> Int {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline, condition() {
        let result = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url])
        if let status = Int(result.output), status > 0 { return status }
        usleep(100_000)
    }
    return 0
}
