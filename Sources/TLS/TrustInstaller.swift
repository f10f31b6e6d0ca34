import DevhostManifest
import Foundation

/// `devhost trust`: puts the local CA into the system store and the NSS databases, records what it
/// added (trust.json), and takes exactly that out again on uninstall.
public struct TrustInstaller: Sendable {
    public var files: LocalCAFiles
    /// Nil leaves the system store alone.
    public var system: SystemTrustStore?
    /// The NSS databases to add to (found with `NSSTrustStore.discover`, or named by the user).
    public var nssDatabases: [String]
    /// A database to create first when it does not exist (Chromium's, on request).
    public var createDatabase: String?
    public var user: String
    public var tools: ToolRunner

    public init(
        files: LocalCAFiles, system: SystemTrustStore?, nssDatabases: [String], createDatabase: String? = nil, user: String,
        tools: ToolRunner
    ) {
        self.tools = tools
        self.files = files
        self.system = system
        self.nssDatabases = nssDatabases
        self.createDatabase = createDatabase
        self.user = user
    }

    /// What was done, one line a step, and what failed (each store is tried even when another fails).
    public struct Report: Sendable {
        public var done: [String] = []
        public var failed: [String] = []
    }

    public var nickname: String { "devhost local CA (\(user))" }

    public func install(_ ca: LocalCA) throws -> Report {
        var record = try TrustRecord.load(files)
        var report = Report()
        if let system {
            let path = system.certificatePath(user: user)
            do {
                let ran = try system.install(certificatePEM: ca.certificatePEM, at: path, tools: tools)
                record.add(.init(store: "system", location: path, name: system.root))
                report.done.append("system store: copied the CA to \(path); ran \(ran.joined(separator: "; "))")
            } catch {
                report.failed.append("system store (\(path)): \(error)")
            }
        }
        var databases = nssDatabases
        if let createDatabase, !NSSTrustStore.hasDatabase(createDatabase) {
            do {
                try NSSTrustStore.create(createDatabase, tools: tools)
                report.done.append("created the NSS database \(createDatabase) (certutil -N --empty-password)")
                if !databases.contains(createDatabase) { databases.append(createDatabase) }
            } catch {
                report.failed.append("NSS database \(createDatabase): \(error)")
            }
        }
        for database in databases {
            do {
                let ran = try NSSTrustStore.add(ca.files.certificate, nickname: nickname, to: database, tools: tools)
                record.add(.init(store: "nss", location: database, name: nickname))
                report.done.append("NSS database \(database): added \"\(nickname)\" (\(ran))")
            } catch {
                report.failed.append("NSS database \(database): \(error)")
            }
        }
        if databases.isEmpty {
            report.done.append("no NSS database found (Chromium's ~/.pki/nssdb, Firefox profiles); --create-nssdb makes Chromium's")
        }
        try record.save(files)
        // The services' bundle: the system bundle may have changed since the CA was made.
        try ca.writeBundle()
        return report
    }

    /// Removes every entry of the record; entries that fail stay recorded for another try.
    public static func uninstall(files: LocalCAFiles, tools: ToolRunner) throws -> Report {
        let record = try TrustRecord.load(files)
        var report = Report()
        var remaining = TrustRecord()
        for entry in record.entries {
            do {
                switch entry.store {
                case "system":
                    let ran = try SystemTrustStore(root: entry.name).uninstall(at: entry.location, tools: tools)
                    report.done.append("system store: removed \(entry.location); ran \(ran.joined(separator: "; "))")
                case "nss":
                    let ran = try NSSTrustStore.remove(nickname: entry.name, from: entry.location, tools: tools)
                    report.done.append("NSS database \(entry.location): removed \"\(entry.name)\" (\(ran))")
                default:
                    throw TLSError("\(files.trustRecord): unknown store \"\(entry.store)\"")
                }
            } catch {
                remaining.add(entry)
                report.failed.append("\(entry.store) \(entry.location): \(error)")
            }
        }
        if record.entries.isEmpty { report.done.append("nothing to remove: \(files.trustRecord) lists no store") }
        try remaining.save(files)
        return report
    }

    /// One line per store for `devhost doctor`: the recorded ones and any other found database.
    public struct StoreStatus: Sendable, Equatable {
        public var store: String
        public var trusted: Bool
    }

    public func status(_ ca: LocalCA) -> [StoreStatus] {
        var lines: [StoreStatus] = []
        if let system {
            let path = system.certificatePath(user: user)
            let trusted = FileManager.default.fileExists(atPath: path) && system.bundleContains(ca.certificatePEM)
            lines.append(StoreStatus(store: "system store (\(system.bundle))", trusted: trusted))
        }
        for database in nssDatabases {
            lines.append(
                StoreStatus(
                    store: "NSS \(database)",
                    trusted: NSSTrustStore.contains(ca.certificatePEM, nickname: nickname, in: database, tools: tools)))
        }
        return lines
    }
}
