import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The server side of TLS for the proxy: a `TLSConfiguration` whose certificate is chosen per
/// handshake from the client's SNI name through a `CertificateIssuer`, with ALPN offering HTTP/2 and
/// HTTP/1.1. The proxy puts `NIOSSLServerHandler(context:)` first in a connection's pipeline and
/// reads the negotiated protocol from the handler once the handshake completes.
public enum TLSServerConfiguration {
    /// What ALPN offers, in order of preference.
    public static let defaultApplicationProtocols = ["h2", "http/1.1"]

    /// A configuration for `issuer`. A client without SNI (one that connected to 127.0.0.1 or ::1)
    /// gets the default leaf for localhost and both loopback addresses; a name outside the CA's scope
    /// fails the handshake, logged at warning with the name and the reason, at most once a minute
    /// per name (`limiter`); the next line for the name counts the refusals left out.
    public static func make(
        issuer: CertificateIssuer, applicationProtocols: [String] = defaultApplicationProtocols, logger: Logger,
        limiter: RefusalLogLimiter = RefusalLogLimiter()
    ) throws -> TLSConfiguration {
        let limiter = Mutex(limiter)
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
                switch limiter.withLock({ $0.refused(name, at: .now) }) {
                case .suppress: break
                case .log(let suppressed):
                    let untold = suppressed == 0 ? "" : " (\(suppressed) more for this name since the last line, not logged)"
                    logger.warning("TLS handshake refused: \(error)\(untold)", metadata: ["sni": "\(name)"])
                }
                promise.fail(error)
            }
        }
        return configuration
    }

    /// The shared context: one per listener, for every connection's `NIOSSLServerHandler`.
    public static func makeContext(
        issuer: CertificateIssuer, applicationProtocols: [String] = defaultApplicationProtocols, logger: Logger,
        limiter: RefusalLogLimiter = RefusalLogLimiter()
    ) throws -> NIOSSLContext {
        try NIOSSLContext(
            configuration: make(issuer: issuer, applicationProtocols: applicationProtocols, logger: logger, limiter: limiter))
    }
}
