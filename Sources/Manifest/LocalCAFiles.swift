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

    /// The system bundles (Debian's, Fedora's, the OpenSSL default), the first that exists being
    /// the one `bundle` starts with.
    public static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]

    /// Adds, when the CA exists, what makes Node (`NODE_EXTRA_CA_CERTS`), OpenSSL-based clients
    /// (`SSL_CERT_FILE`) and Python's requests (`REQUESTS_CA_BUNDLE`) trust the routes, plus
    /// `DEVHOST_CA_FILE`. A variable in `projectKeys` (the project or service sets it) is kept. One
    /// devhost inherited is kept too, unless it names a system bundle: `bundle` holds that bundle and
    /// the CA, so pointing there instead loses nothing (some machines set all three to the system
    /// bundle for every process).
    public func addServiceVariables(to env: inout [String: String], keeping projectKeys: Set<String>) {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: certificate) else { return }
        let hasBundle = fileManager.fileExists(atPath: bundle)
        var wanted = ["DEVHOST_CA_FILE": certificate, "NODE_EXTRA_CA_CERTS": certificate]
        if hasBundle {
            wanted["SSL_CERT_FILE"] = bundle
            wanted["REQUESTS_CA_BUNDLE"] = bundle
        }
        for (key, value) in wanted where !projectKeys.contains(key) {
            guard let current = env[key] else {
                env[key] = value
                continue
            }
            if hasBundle, Self.systemBundles.contains(current) { env[key] = bundle }
        }
    }
}
