import DevhostManifest
import NIOCore
import NIOSSL

/// The client side of devhost's own requests to its HTTPS listener (a replay of an exchange that
/// came over TLS): devhost's CA is the only trust root, and the server name is sent as SNI and
/// checked against the certificate (an IP address goes without SNI, as clients send it).
public struct TLSClient: Sendable {
    let context: NIOSSLContext

    public init(trusting files: LocalCAFiles) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(files.certificate)
        configuration.applicationProtocols = ["http/1.1"]
        context = try NIOSSLContext(configuration: configuration)
    }

    /// Puts TLS first in `channel`'s pipeline (called on its loop, from a channel initializer).
    public func add(to channel: Channel, serverName: String) throws {
        let isAddress = serverName.contains(":") || serverName.split(separator: ".").allSatisfy { Int($0) != nil }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : serverName)
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
    }
}
