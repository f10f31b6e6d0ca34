import Logging
import NIOCore
import NIOSSL

/// The server side of TLS for the proxy: a `TLSConfiguration` whose certificate is chosen per
/// handshake from the client's SNI name through a `CertificateIssuer`, with ALPN offering HTTP/2 and
/// HTTP/1.1. The proxy puts `NIOSSLServerHandler(context:)` first in a connection's pipeline and
/// reads the negotiated protocol from the handler once the handshake completes.
public enum TLSServerConfiguration {
    /// What ALPN offers, in order of preference.
    public static let defaultApplicationProtocols = ["h2", "http/1.1"]

    /// A configuration for `issuer`. A client without SNI (one that connected to 127.0.0.1 or ::1)
    /// gets the default leaf for localhost and both loopback addresses; a name outside the CA's scope
    /// fails the handshake, logged at warning with the name and the reason.
    public static func make(
        issuer: CertificateIssuer, applicationProtocols: [String] = defaultApplicationProtocols, logger: Logger
    ) throws -> TLSConfiguration {
        let fallback = try issuer.defaultCertificate()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(fallback.sslCertificate)], privateKey: .privateKey(fallback.sslPrivateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = applicationProtocols
        configuration.sslContextCallback = { values, promise in
            guard let name = values.serverHostname else { return promise.succeed(.noChanges) }
            do {
                let leaf = try issuer.certificate(for: name)
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = [.certificate(leaf.sslCertificate)]
                override.privateKey = .privateKey(leaf.sslPrivateKey)
                promise.succeed(override)
            } catch {
                logger.warning("TLS handshake refused: \(error)", metadata: ["sni": "\(name)"])
                promise.fail(error)
            }
        }
        return configuration
    }

    /// The shared context: one per listener, for every connection's `NIOSSLServerHandler`.
    public static func makeContext(
        issuer: CertificateIssuer, applicationProtocols: [String] = defaultApplicationProtocols, logger: Logger
    ) throws -> NIOSSLContext {
        try NIOSSLContext(configuration: make(issuer: issuer, applicationProtocols: applicationProtocols, logger: logger))
    }
}
