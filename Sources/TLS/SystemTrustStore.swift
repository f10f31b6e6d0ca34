import Foundation

/// The system's trust store: Debian's and Ubuntu's `/usr/local/share/ca-certificates` with
/// `update-ca-certificates`, or Fedora's `/etc/pki/ca-trust/source/anchors` with `update-ca-trust`.
/// `root` moves every folder under another root (tests use a temporary one); only `/` needs root
/// privileges, and `sudo` is used when devhost is not root and cannot write the folder.
public struct SystemTrustStore: Sendable {
    public enum Kind: String, Sendable { case debian, fedora }

    public var root: String
    public var kind: Kind

    public init(root: String = "/") {
        self.root = root
        let base = root == "/" ? "" : root
        let debian = FileManager.default.fileExists(atPath: base + "/usr/local/share/ca-certificates")
        let fedora = FileManager.default.fileExists(atPath: base + "/etc/pki/ca-trust/source/anchors")
        self.kind = !debian && fedora ? .fedora : .debian
    }

    private var base: String { root == "/" ? "" : root }

    /// Where the CA's copy goes for `user`.
    public func certificatePath(user: String) -> String {
        switch kind {
        case .debian: return base + "/usr/local/share/ca-certificates/devhost-\(user).crt"
        case .fedora: return base + "/etc/pki/ca-trust/source/anchors/devhost-\(user).crt"
        }
    }

    /// The bundle that OpenSSL-based clients read, rebuilt by the store's tool.
    public var bundle: String {
        switch kind {
        case .debian: return base + "/etc/ssl/certs/ca-certificates.crt"
        case .fedora: return base + "/etc/pki/tls/certs/ca-bundle.crt"
        }
    }

    /// Copies the CA in and rebuilds the bundle; returns the commands it ran.
    func install(certificatePEM: String, at path: String, tools: ToolRunner) throws -> [String] {
        let folder = (path as NSString).deletingLastPathComponent
        if root != "/" { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var ran: [String] = []
        if access(folder, W_OK) == 0 {
            try LocalCA.writeAtomically(Array(certificatePEM.utf8), to: path, mode: 0o644)
        } else {
            let staged = NSTemporaryDirectory() + "devhost-ca-\(getpid()).crt"
            try LocalCA.writeAtomically(Array(certificatePEM.utf8), to: staged, mode: 0o644)
            defer { unlink(staged) }
            ran.append(try privileged(tools, ["install", "-m", "0644", staged, path]))
        }
        ran.append(try privileged(tools, updateCommand(fresh: false)))
        return ran
    }

    /// Removes the copy at `path` and rebuilds the bundle without it.
    func uninstall(at path: String, tools: ToolRunner) throws -> [String] {
        var ran: [String] = []
        if FileManager.default.fileExists(atPath: path) {
            if unlink(path) != 0 { ran.append(try privileged(tools, ["rm", "-f", path])) }
        }
        // --fresh: without it Debian's tool drops the dangling link before counting it as removed,
        // and an unchanged count leaves the old bundle (with the CA) in place.
        ran.append(try privileged(tools, updateCommand(fresh: true)))
        return ran
    }

    /// Whether the bundle holds `certificatePEM` (the tool has run since the copy was added).
    func bundleContains(_ certificatePEM: String) -> Bool {
        guard let bundle = try? String(contentsOfFile: bundle, encoding: .utf8) else { return false }
        return bundle.contains(certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func updateCommand(fresh: Bool) -> [String] {
        switch kind {
        case .fedora:
            return ["update-ca-trust", "extract"]
        case .debian:
            var command = ["update-ca-certificates"] + (fresh ? ["--fresh"] : [])
            if root != "/" {
                command += [
                    "--certsconf", base + "/etc/ca-certificates.conf", "--certsdir", base + "/usr/share/ca-certificates",
                    "--localcertsdir", base + "/usr/local/share/ca-certificates", "--etccertsdir", base + "/etc/ssl/certs",
                    "--hooksdir", base + "/etc/ca-certificates/update.d",
                ]
            }
            return command
        }
    }

    private func privileged(_ tools: ToolRunner, _ command: [String]) throws -> String {
        let argv = geteuid() == 0 || root != "/" ? command : ["sudo"] + command
        try tools.check(argv)
        return ToolRunner.display(argv)
    }
}
