import Foundation

/// NSS databases (cert9.db), where Chromium (`~/.pki/nssdb`) and Firefox (each profile) look for
/// trusted CAs on Linux; changed with `certutil` from libnss3-tools.
public enum NSSTrustStore {
    /// Chromium's shared database under `home`.
    public static func chromiumDatabase(home: String) -> String { home + "/.pki/nssdb" }

    /// The databases that exist under `home`: Chromium's and every Firefox profile's (also the snap
    /// packages' copies).
    public static func discover(home: String) -> [String] {
        var found: [String] = []
        for candidate in [chromiumDatabase(home: home), home + "/snap/chromium/current/.pki/nssdb"] where hasDatabase(candidate) {
            found.append(candidate)
        }
        for profiles in [home + "/.mozilla/firefox", home + "/snap/firefox/common/.mozilla/firefox"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: profiles)) ?? []
            for name in names.sorted() where hasDatabase(profiles + "/" + name) { found.append(profiles + "/" + name) }
        }
        return found
    }

    static func hasDatabase(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: folder + "/cert9.db")
    }

    /// Makes an empty database (no password), as Chromium would on first start.
    static func create(_ folder: String, tools: ToolRunner) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try tools.check(["certutil", "-N", "--empty-password", "-d", "sql:" + folder])
    }

    /// Adds the CA as trusted for TLS servers (`C,,`: a CA for server certificates only).
    static func add(_ certificateFile: String, nickname: String, to folder: String, tools: ToolRunner) throws -> String {
        let command = ["certutil", "-A", "-d", "sql:" + folder, "-n", nickname, "-t", "C,,", "-i", certificateFile]
        try tools.check(command)
        return ToolRunner.display(command)
    }

    static func remove(nickname: String, from folder: String, tools: ToolRunner) throws -> String {
        let command = ["certutil", "-D", "-d", "sql:" + folder, "-n", nickname]
        guard hasDatabase(folder) else { return "nothing to do: \(folder) has no database any more" }
        let outcome = try tools.run(command)
        // Already gone (removed by hand) is what uninstall wants.
        guard outcome.status == 0 || outcome.output.contains("could not find certificate named") else {
            throw TLSError("`\(ToolRunner.display(command))` exited with \(outcome.status): \(outcome.output)")
        }
        return ToolRunner.display(command)
    }

    /// Whether `folder` holds exactly this CA under `nickname`, trusted for servers.
    static func contains(_ certificatePEM: String, nickname: String, in folder: String, tools: ToolRunner) -> Bool {
        guard hasDatabase(folder), let outcome = try? tools.run(["certutil", "-L", "-d", "sql:" + folder, "-n", nickname, "-a"]),
            outcome.status == 0
        else { return false }
        let strip = { (text: String) in text.filter { !$0.isWhitespace } }
        return strip(outcome.output).contains(strip(certificatePEM))
    }
}
