import DevhostManifest
import DevhostTLS
import Foundation

extension DoctorCommand {
    /// Whether the local CA exists, is safe to use, and is trusted in each store `devhost trust`
    /// would use (the recorded ones and those found now).
    static func trust(environment: [String: String]) -> [Finding] {
        guard let files = LocalCAFiles(environment: environment) else {
            return [Finding(level: .warning, text: "HOME is not set: devhost has nowhere to keep its CA")]
        }
        guard FileManager.default.fileExists(atPath: files.certificate) || FileManager.default.fileExists(atPath: files.privateKey) else {
            return [Finding(level: .ok, text: "no local CA yet (\(files.folder))", fix: "`devhost trust` makes it and installs it")]
        }
        let ca: LocalCA
        do {
            ca = try LocalCA.load(files: files)
        } catch {
            return [Finding(level: .failure, text: "the local CA cannot be used: \(error)")]
        }
        var findings = [Finding(level: .ok, text: "local CA \(files.certificate) (permits \(ca.scope.summary))")]
        var installer = TrustCommand.installer(files: files, environment: environment, options: nil)
        let recorded = (try? TrustRecord.load(files))?.entries ?? []
        for entry in recorded where entry.store == "nss" && !installer.nssDatabases.contains(entry.location) {
            installer.nssDatabases.append(entry.location)
        }
        var statuses = installer.status(ca).map { ($0, "devhost trust") }
        // A system store that `devhost trust --system-root` filled is checked where it is.
        for entry in recorded where entry.store == "system" && entry.name != "/" {
            let other = TrustInstaller(
                files: files, system: SystemTrustStore(root: entry.name), nssDatabases: [], user: installer.user, tools: installer.tools)
            statuses += other.status(ca).map { ($0, "devhost trust --system-root \(entry.name)") }
        }
        for (status, fix) in statuses {
            findings.append(
                status.trusted
                    ? Finding(level: .ok, text: "the CA is trusted in the \(status.store)")
                    : Finding(level: .warning, text: "the CA is not trusted in the \(status.store)", fix: fix))
        }
        return findings
    }
}
