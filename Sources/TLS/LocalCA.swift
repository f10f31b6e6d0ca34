import Crypto
import DevhostManifest
import Foundation
import SwiftASN1
import X509

/// The per-user certificate authority: an ECDSA P-256 key and a self-signed certificate whose name
/// constraints (critical) permit only `NameScope`'s names, so the key can sign nothing a browser
/// would accept for a real site. Made on first use in `LocalCAFiles.folder` (0700), the key written
/// once with mode 0600; a key file that others can read, or that another user owns, is refused.
public struct LocalCA: Sendable {
    public let files: LocalCAFiles
    public let certificate: Certificate
    public let scope: NameScope
    let privateKey: Certificate.PrivateKey

    /// The CA's validity: long, because re-trusting a new CA in every store is the user's work.
    static let lifetime: TimeInterval = 10 * 365 * 86_400

    /// The CA in `files`, made now if it does not exist. An existing CA must already permit every
    /// domain of `scope`: its constraints are signed in and cannot grow.
    public static func loadOrCreate(files: LocalCAFiles, scope: NameScope, now: Date = Date()) throws -> LocalCA {
        try makeFolder(files.folder)
        // One process makes the CA; another that starts meanwhile waits here and then loads it.
        let lock = open(files.folder + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw TLSError("\(files.folder)/.lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw TLSError("\(files.folder)/.lock: \(String(cString: strerror(errno)))") }
        if FileManager.default.fileExists(atPath: files.privateKey) || FileManager.default.fileExists(atPath: files.certificate) {
            let ca = try load(files: files)
            guard ca.scope.covers(scope) else {
                throw TLSError(
                    "\(files.certificate): this CA permits only \(ca.scope.summary), not \(scope.domains.joined(separator: ", ")); "
                        + "its constraints cannot grow: `devhost trust --uninstall`, remove \(files.folder), then `devhost trust` makes a new one"
                )
            }
            if !FileManager.default.fileExists(atPath: files.bundle) { try ca.writeBundle() }
            return ca
        }
        let ca = try create(files: files, scope: scope, now: now)
        try ca.writeBundle()
        return ca
    }

    /// The existing CA; an error naming the file when it is missing, unreadable or unsafe.
    public static func load(files: LocalCAFiles) throws -> LocalCA {
        try checkPrivate(files.folder, isFolder: true)
        try checkPrivate(files.privateKey, isFolder: false)
        let keyPEM: String
        let certificatePEM: String
        do {
            keyPEM = try String(contentsOfFile: files.privateKey, encoding: .utf8)
            certificatePEM = try String(contentsOfFile: files.certificate, encoding: .utf8)
        } catch {
            throw TLSError("\(files.folder): the CA is incomplete (\(error.localizedDescription)); remove the folder to make a new one")
        }
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw TLSError("\(files.privateKey): not an ECDSA P-256 private key in PEM (\(error))")
        }
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw TLSError("\(files.certificate): not a PEM certificate (\(error))")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw TLSError("\(files.certificate): its public key does not match \(files.privateKey)")
        }
        guard let constraints = try certificate.extensions.nameConstraints else {
            throw TLSError("\(files.certificate): the CA has no name constraints; devhost does not use an unconstrained CA")
        }
        return LocalCA(
            files: files, certificate: certificate, scope: NameScope(nameConstraints: constraints), privateKey: Certificate.PrivateKey(key))
    }

    static func create(files: LocalCAFiles, scope: NameScope, now: Date) throws -> LocalCA {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let user = ProcessInfo.processInfo.userName
        let host = ProcessInfo.processInfo.hostName
        let name = try DistinguishedName {
            OrganizationName("devhost")
            CommonName("devhost local CA (\(user)@\(host))")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            Critical(scope.nameConstraints)
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now - 3600, notValidAfter: now + lifetime, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(key))
        // The key first, written fresh at a temporary name with 0600 and renamed: never a moment
        // with a half-written or readable key at the real path.
        try writeAtomically(Array(key.pemRepresentation.utf8), to: files.privateKey, mode: 0o600)
        try writeAtomically(Array(certificate.pemString.utf8), to: files.certificate, mode: 0o644)
        return LocalCA(files: files, certificate: certificate, scope: scope, privateKey: Certificate.PrivateKey(key))
    }

    /// The certificate in PEM.
    public var certificatePEM: String { certificate.pemString }

    /// The system bundle (Debian's, Fedora's, or the OpenSSL default) followed by this CA.
    public func writeBundle() throws {
        let system = LocalCAFiles.systemBundles.lazy.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first ?? ""
        let separator = system.isEmpty || system.hasSuffix("\n") ? "" : "\n"
        try Self.writeAtomically(Array((system + separator + certificatePEM).utf8), to: files.bundle, mode: 0o644)
    }

    static func makeFolder(_ folder: String) throws {
        let parent = (folder as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw TLSError("\(parent): cannot create the folder (\(error.localizedDescription))")
        }
        if mkdir(folder, 0o700) != 0, errno != EEXIST {
            throw TLSError("\(folder): cannot create the folder (\(String(cString: strerror(errno))))")
        }
        try checkPrivate(folder, isFolder: true)
    }

    /// Refuses a path that is a link, belongs to another user, or that group or others can use.
    static func checkPrivate(_ path: String, isFolder: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw TLSError("\(path): \(String(cString: strerror(errno)))") }
        let kind = info.st_mode & S_IFMT
        guard kind == (isFolder ? S_IFDIR : S_IFREG) else {
            throw TLSError(
                "\(path): expected a \(isFolder ? "folder" : "regular file"), found a link or another kind of file; devhost will not use it"
            )
        }
        guard info.st_uid == geteuid() else {
            throw TLSError(
                "\(path): owned by uid \(info.st_uid), not by you (uid \(geteuid())); devhost will not use a CA another user controls")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            let wanted = isFolder ? "700" : "600"
            throw TLSError(
                "\(path): mode \(String(mode, radix: 8)) lets other users read or change the CA \(isFolder ? "folder" : "key"); "
                    + "devhost refuses to use it: `chmod \(wanted) \(path)` if nobody else could have copied it, else remove the folder")
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = path + ".\(getpid()).tmp"
        unlink(temporary)
        do {
            try FileWriter.write(bytes, to: temporary, mode: mode, fresh: true)
            guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            unlink(temporary)
            throw TLSError("\(path): cannot write (\(error))")
        }
    }
}

extension Certificate {
    /// The certificate in PEM (`-----BEGIN CERTIFICATE-----`).
    var pemString: String {
        // Serialising a parsed or freshly signed certificate cannot fail: its parts are already DER.
        (try? serializeAsPEM().pemString) ?? ""
    }
}
