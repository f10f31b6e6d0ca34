import Foundation

/// Where the per-user certificate authority lives: `$XDG_DATA_HOME/devhost/ca`, or
/// `~/.local/share/devhost/ca`. Only paths: the manifest module stays free of TLS. DevhostTLS makes
/// the files; the service environment points services at them once they exist.
public struct LocalCAFiles: Sendable, Equatable {
    public var folder: String

    public init(folder: String) { self.folder = folder }

    /// The folder for a user's environment (XDG base directory rules: a relative `XDG_DATA_HOME`
    /// is ignored). Nil when neither it nor `HOME` is set.
    public init?(environment: [String: String]) {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            self.folder = data + "/devhost/ca"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            self.folder = home + "/.local/share/devhost/ca"
        } else {
            return nil
        }
    }

    /// The CA certificate (PEM): what clients trust.
    public var certificate: String { folder + "/ca.pem" }
    /// The CA's private key (PKCS#8 PEM), mode 0600.
    public var privateKey: String { folder + "/ca-key.pem" }
    /// The system's CA bundle followed by the devhost CA, for `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE`:
    /// those replace the default bundle rather than add to it.
    public var bundle: String { folder + "/bundle.pem" }
    /// What `devhost trust` added, so `--uninstall` removes exactly that.
    public var trustRecord: String { folder + "/trust.json" }

    /// The variables a service gets when the CA exists, so Node (`NODE_EXTRA_CA_CERTS`), OpenSSL-based
    /// clients (`SSL_CERT_FILE`) and Python's requests (`REQUESTS_CA_BUNDLE`) trust the routes.
    public func serviceVariables() -> [String: String] {
        guard FileManager.default.fileExists(atPath: certificate) else { return [:] }
        var variables = ["DEVHOST_CA_FILE": certificate, "NODE_EXTRA_CA_CERTS": certificate]
        if FileManager.default.fileExists(atPath: bundle) {
            variables["SSL_CERT_FILE"] = bundle
            variables["REQUESTS_CA_BUNDLE"] = bundle
        }
        return variables
    }
}
