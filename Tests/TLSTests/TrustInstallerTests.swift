import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostTLS

/// `devhost trust` against real stores in temporary folders: a Debian system store (its own
/// update-ca-certificates, pointed at a temporary root) and NSS databases made by certutil.
@Suite struct TrustInstallerTests {
    /// A temporary root with a system store that already trusts one other CA, and a HOME with
    /// Chromium's NSS database and a Firefox profile's.
    struct Stores {
        let temp: TempCA
        let systemRoot: String
        let home: String
        let otherCA: String

        init() throws {
            temp = try TempCA()
            systemRoot = temp.root + "/system"
            home = temp.root + "/home"
            for folder in [
                "usr/share/ca-certificates/other", "usr/local/share/ca-certificates", "etc/ssl/certs", "etc/ca-certificates/update.d",
            ] {
                try FileManager.default.createDirectory(atPath: systemRoot + "/" + folder, withIntermediateDirectories: true)
            }
            otherCA = systemRoot + "/usr/share/ca-certificates/other/other.crt"
            let made = try run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                temp.root + "/other.key",
                "-subj", "/CN=Some Other CA", "-days", "2", "-out", otherCA,
            ])
            #expect(made.status == 0, "\(made.output)")
            _ = try temp.write("system/etc/ca-certificates.conf", "other/other.crt\n")
            for database in [home + "/.pki/nssdb", home + "/.mozilla/firefox/abcd1234.default-release"] {
                try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
                let created = try run(["certutil", "-N", "--empty-password", "-d", "sql:" + database])
                #expect(created.status == 0, "\(created.output)")
            }
        }

        var installer: TrustInstaller {
            TrustInstaller(
                files: temp.files, system: SystemTrustStore(root: systemRoot), nssDatabases: NSSTrustStore.discover(home: home),
                user: "tester",
                tools: testTools)
        }

        var bundle: String { (try? String(contentsOfFile: systemRoot + "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)) ?? "" }

        func nssHolds(_ database: String) throws -> Bool {
            try run(["certutil", "-L", "-d", "sql:" + database, "-n", "devhost local CA (tester)"]).status == 0
        }
    }

    @Test func installAddsTheCAEverywhereAndUninstallRemovesExactlyThat() throws {
        let stores = try Stores()
        let installer = stores.installer
        #expect(installer.nssDatabases == [stores.home + "/.pki/nssdb", stores.home + "/.mozilla/firefox/abcd1234.default-release"])
        #expect(installer.status(stores.temp.ca).allSatisfy { !$0.trusted })

        let report = try installer.install(stores.temp.ca)
        #expect(report.failed.isEmpty, "\(report.failed)")
        #expect(report.done.count == 3, "\(report.done)")
        #expect(report.done[0].contains("copied the CA to \(stores.systemRoot)/usr/local/share/ca-certificates/devhost-tester.crt"))
        #expect(report.done[0].contains("ran update-ca-certificates --certsconf"))
        #expect(stores.bundle.contains(stores.temp.ca.certificatePEM.trimmingCharacters(in: .newlines)))
        let listing = try run(["certutil", "-L", "-d", "sql:" + stores.home + "/.pki/nssdb"])
        #expect(listing.output.contains("devhost local CA (tester)") && listing.output.contains("C,,"), "\(listing.output)")
        #expect(try stores.nssHolds(stores.home + "/.mozilla/firefox/abcd1234.default-release"))
        #expect(installer.status(stores.temp.ca).map(\.trusted) == [true, true, true])
        // A leaf the CA issued verifies against the system bundle alone.
        let leaf = try stores.temp.write(
            "leaf.pem", try CertificateIssuer(ca: stores.temp.ca).certificate(for: "api.localhost").certificate.pemString)
        #expect(try run(["openssl", "verify", "-CAfile", stores.systemRoot + "/etc/ssl/certs/ca-certificates.crt", leaf]).status == 0)
        let record = try TrustRecord.load(stores.temp.files)
        #expect(record.entries.map(\.store) == ["system", "nss", "nss"])

        // Installing again adds nothing new to the record.
        _ = try installer.install(stores.temp.ca)
        #expect(try TrustRecord.load(stores.temp.files) == record)

        let removed = try TrustInstaller.uninstall(files: stores.temp.files, tools: testTools)
        #expect(removed.failed.isEmpty, "\(removed.failed)")
        #expect(removed.done.count == 3, "\(removed.done)")
        #expect(!FileManager.default.fileExists(atPath: stores.systemRoot + "/usr/local/share/ca-certificates/devhost-tester.crt"))
        #expect(!stores.bundle.contains(stores.temp.ca.certificatePEM.trimmingCharacters(in: .newlines)))
        #expect(
            stores.bundle.contains(try String(contentsOfFile: stores.otherCA, encoding: .utf8).trimmingCharacters(in: .newlines)),
            "the other CA stays")
        #expect(try !stores.nssHolds(stores.home + "/.pki/nssdb"))
        #expect(try !stores.nssHolds(stores.home + "/.mozilla/firefox/abcd1234.default-release"))
        #expect(!FileManager.default.fileExists(atPath: stores.temp.files.trustRecord))
        #expect(installer.status(stores.temp.ca).allSatisfy { !$0.trusted })
    }

    @Test func aStoreThatFailsIsReportedAndTheOthersAreStillDone() throws {
        let stores = try Stores()
        var installer = stores.installer
        installer.nssDatabases.append(stores.home + "/missing")
        let report = try installer.install(stores.temp.ca)
        #expect(report.done.count == 3)
        #expect(report.failed.count == 1)
        #expect(report.failed.first?.contains("NSS database \(stores.home)/missing: `certutil -A") == true, "\(report.failed)")
        #expect(try TrustRecord.load(stores.temp.files).entries.count == 3, "only what was added is recorded")
        _ = try TrustInstaller.uninstall(files: stores.temp.files, tools: testTools)
    }

    @Test func chromiumsDatabaseIsCreatedOnlyWhenAsked() throws {
        let temp = try TempCA()
        let home = temp.root + "/home"
        #expect(NSSTrustStore.discover(home: home).isEmpty)
        let installer = TrustInstaller(
            files: temp.files, system: nil, nssDatabases: [], createDatabase: NSSTrustStore.chromiumDatabase(home: home), user: "tester",
            tools: testTools)
        let report = try installer.install(temp.ca)
        #expect(report.done.first == "created the NSS database \(home)/.pki/nssdb (certutil -N --empty-password)", "\(report.done)")
        #expect(NSSTrustStore.discover(home: home) == [home + "/.pki/nssdb"])
        #expect(try TrustRecord.load(temp.files).entries.map(\.location) == [home + "/.pki/nssdb"])
    }

    /// The command as a user runs it, with every store in temporary folders, and doctor's view.
    @Test func theTrustCommandInstallsReportsAndUninstalls() throws {
        let stores = try Stores()
        let environment = ProcessInfo.processInfo.environment.merging(["HOME": stores.home, "XDG_DATA_HOME": stores.temp.root + "/data"]) {
            $1
        }
        let installed = try run([devhostBinary, "trust", "--system-root", stores.systemRoot], environment: environment)
        #expect(installed.status == 0, "\(installed.output)")
        #expect(installed.output.contains("CA: \(stores.temp.files.certificate) (permits localhost, *.localhost, 127.0.0.1, ::1)"))
        #expect(
            installed.output.contains("done: system store: copied the CA to \(stores.systemRoot)/usr/local/share/ca-certificates/devhost-"))
        #expect(installed.output.contains("done: NSS database \(stores.home)/.pki/nssdb: added"), "\(installed.output)")
        #expect(installed.output.contains("done: NSS database \(stores.home)/.mozilla/firefox/abcd1234.default-release: added"))

        let doctor = try run([devhostBinary, "doctor"], in: stores.temp.root, environment: environment)
        #expect(doctor.output.contains("local CA \(stores.temp.files.certificate) (permits"), "\(doctor.output)")
        #expect(doctor.output.contains("the CA is trusted in the NSS \(stores.home)/.pki/nssdb"), "\(doctor.output)")
        #expect(doctor.output.contains("the CA is trusted in the NSS \(stores.home)/.mozilla/firefox/abcd1234.default-release"))

        let removed = try run([devhostBinary, "trust", "--uninstall"], environment: environment)
        #expect(removed.status == 0, "\(removed.output)")
        #expect(removed.output.contains("done: system store: removed \(stores.systemRoot)/usr/local/share/ca-certificates/devhost-"))
        #expect(removed.output.contains("done: NSS database \(stores.home)/.pki/nssdb: removed"))
        let after = try run([devhostBinary, "doctor"], in: stores.temp.root, environment: environment)
        #expect(after.output.contains("the CA is not trusted in the NSS \(stores.home)/.pki/nssdb"), "\(after.output)")
        #expect(after.output.contains("fix: devhost trust"))
    }
}
