import DevhostRuntime

/// `count` free loopback ports, all different: two draws of a port the OS chose can name the same
/// port, since the first is closed again before the second is drawn.
public func freeLoopbackPorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    for _ in 0..<count * 16 where ports.count < count {
        let port = try freeLoopbackPort()
        if !ports.contains(port) { ports.append(port) }
    }
    precondition(ports.count == count, "no \(count) distinct free ports")
    return ports
}
