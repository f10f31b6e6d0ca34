import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import X509

@testable import DevhostTLS

@Suite struct LocalCATests {
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    @Test func theCAIsMadeOnceWithItsConstraintsAndAPrivateKey() throws {
        let temp = try TempCA()
        #expect(Self.mode(temp.files.folder) == 0o700)
        #expect(Self.mode(temp.files.privateKey) == 0o600)
        let text = try run(["openssl", "x509", "-in", temp.files.certificate, "-noout", "-text"])
        #expect(text.status == 0)
        for line in [
            "X509v3 Name Constraints: critical", "DNS:localhost", "IP:127.0.0.1/255.255.255.255",
            "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "X509v3 Basic Constraints: critical", "CA:TRUE, pathlen:0",
            "X509v3 Key Usage: critical", "Certificate Sign, CRL Sign", "NIST CURVE: P-256", "ecdsa-with-SHA256",
        ] {
            #expect(text.output.contains(line), "\(line) in\n\(text.output)")
        }
        // Nothing else is permitted: the constraint lists exactly three names.
        let after = text.output.components(separatedBy: "Permitted:\n").last?.split(separator: "\n") ?? []
        let permitted = after.prefix { line in ["DNS:", "IP:"].contains { line.trimmingCharacters(in: .whitespaces).hasPrefix($0) } }
        #expect(permitted.count == 3, "\(permitted)")
        #expect(!text.output.contains("Excluded:"))
        let years = temp.ca.certificate.notValidAfter.timeIntervalSince(temp.ca.certificate.notValidBefore) / (365 * 86_400)
        #expect(years > 9.9 && years < 10.1)
        // The key is PKCS#8 that OpenSSL reads, and it is the certificate's.
        let keyPublic = try run(["openssl", "pkey", "-in", temp.files.privateKey, "-pubout"])
        let certificatePublic = try run(["openssl", "x509", "-in", temp.files.certificate, "-noout", "-pubkey"])
        #expect(keyPublic.status == 0 && keyPublic.output == certificatePublic.output)

        let again = try LocalCA.loadOrCreate(files: temp.files, scope: NameScope())
        #expect(again.certificate == temp.ca.certificate, "an existing CA is loaded, not replaced")
    }

    @Test func aKeyOthersCanReadIsRefused() throws {
        let temp = try TempCA()
        chmod(temp.files.privateKey, 0o644)
        let error = #expect(throws: TLSError.self) { try LocalCA.loadOrCreate(files: temp.files, scope: NameScope()) }
        #expect(error?.description.contains("\(temp.files.privateKey): mode 644") == true, "\(String(describing: error))")
        #expect(error?.description.contains("chmod 600") == true)
    }

    @Test func aFolderOthersCanEnterIsRefused() throws {
        let temp = try TempCA()
        chmod(temp.files.folder, 0o755)
        let error = #expect(throws: TLSError.self) { try LocalCA.load(files: temp.files) }
        #expect(error?.description.contains("\(temp.files.folder): mode 755") == true, "\(String(describing: error))")
    }

    @Test func aKeyThatIsALinkIsRefused() throws {
        let temp = try TempCA()
        let elsewhere = try temp.write("elsewhere.pem", try String(contentsOfFile: temp.files.privateKey, encoding: .utf8))
        chmod(elsewhere, 0o600)
        unlink(temp.files.privateKey)
        symlink(elsewhere, temp.files.privateKey)
        let error = #expect(throws: TLSError.self) { try LocalCA.load(files: temp.files) }
        #expect(error?.description.contains("found a link") == true, "\(String(describing: error))")
    }

    @Test(.enabled(if: geteuid() == 0, "chown needs root")) func aKeyAnotherUserOwnsIsRefused() throws {
        let temp = try TempCA()
        chown(temp.files.privateKey, 65534, 65534)
        let error = #expect(throws: TLSError.self) { try LocalCA.load(files: temp.files) }
        #expect(error?.description.contains("owned by uid 65534") == true, "\(String(describing: error))")
    }

    @Test func anExistingCACannotGrowItsDomains() throws {
        let temp = try TempCA()
        let error = #expect(throws: TLSError.self) {
            try LocalCA.loadOrCreate(files: temp.files, scope: NameScope(extraDomains: ["dev.example.test"]))
        }
        #expect(error?.description.contains("cannot grow") == true, "\(String(describing: error))")
        // A domain already inside the scope is no growth.
        _ = try LocalCA.loadOrCreate(files: temp.files, scope: NameScope(extraDomains: ["shop.localhost"]))
    }

    @Test func extraDomainsAreInTheConstraints() throws {
        let temp = try TempCA(extraDomains: ["Dev.Example.test"])
        #expect(temp.ca.scope.domains == ["localhost", "dev.example.test"])
        let text = try run(["openssl", "x509", "-in", temp.files.certificate, "-noout", "-text"])
        #expect(text.output.contains("DNS:dev.example.test"))
        #expect(throws: TLSError.self) { try NameScope(extraDomains: ["test"]) }
        #expect(throws: TLSError.self) { try NameScope(extraDomains: ["bad_name.test"]) }
    }

    @Test func theBundleIsTheSystemBundleAndTheCA() throws {
        let temp = try TempCA()
        let bundle = try String(contentsOfFile: temp.files.bundle, encoding: .utf8)
        let system = try String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)
        #expect(bundle.hasPrefix(system))
        #expect(bundle.hasSuffix(temp.ca.certificatePEM))
        // Rewritten when missing (a CA made before the bundle existed).
        unlink(temp.files.bundle)
        _ = try LocalCA.loadOrCreate(files: temp.files, scope: NameScope())
        #expect(FileManager.default.fileExists(atPath: temp.files.bundle))
    }

    @Test func callersMakingTheCAAtOnceGetTheSameOne() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-tls-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = try #require(LocalCAFiles(environment: ["HOME": root]))
        #expect(files.folder == root + "/.local/share/devhost/ca")
        let made = try await withThrowingTaskGroup(of: Certificate.self) { group in
            for _ in 0..<4 { group.addTask { try LocalCA.loadOrCreate(files: files, scope: NameScope()).certificate } }
            return try await group.reduce(into: [Certificate]()) { $0.append($1) }
        }
        #expect(Set(made).count == 1)
    }
}
