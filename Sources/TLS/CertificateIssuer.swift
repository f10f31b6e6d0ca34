import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// A leaf certificate and its key, ready for a TLS handshake.
public struct IssuedCertificate: Sendable {
    public let name: String
    public let certificate: Certificate
    public let privateKey: Certificate.PrivateKey
    /// The same certificate and key in NIOSSL's form, converted once when issued.
    public let sslCertificate: NIOSSLCertificate
    public let sslPrivateKey: NIOSSLPrivateKey
}

/// Issues leaf certificates from the local CA for host names as clients ask for them (by SNI), in
/// memory, each with a fresh P-256 key; keeps the most recently used `capacity` of them. A leaf is
/// valid for `validity` and replaced when less than `renewBefore` is left. Names outside the CA's
/// scope are refused before anything is signed. Thread-safe: handshakes on every event loop share one.
public final class CertificateIssuer: Sendable {
    public let ca: LocalCA
    public let capacity: Int
    public let validity: TimeInterval
    public let renewBefore: TimeInterval
    private let cache: Mutex<LeastRecentlyUsed<IssuedCertificate>>

    public init(ca: LocalCA, capacity: Int = 1000, validity: TimeInterval = 30 * 86_400, renewBefore: TimeInterval = 7 * 86_400) {
        precondition(capacity > 0 && renewBefore < validity)
        self.ca = ca
        self.capacity = capacity
        self.validity = validity
        self.renewBefore = renewBefore
        self.cache = Mutex(LeastRecentlyUsed(capacity: capacity))
    }

    /// How many leaves are cached.
    public var count: Int { cache.withLock { $0.count } }

    /// The leaf for `host` (an SNI name, or 127.0.0.1 / ::1), from the cache while it has more than
    /// `renewBefore` left, else newly issued. Throws `TLSError` for a name outside the CA's scope.
    public func certificate(for host: String, now: Date = Date()) throws -> IssuedCertificate {
        let key = host.lowercased()
        if let cached = cache.withLock({ $0.get(key) }), cached.certificate.notValidAfter.timeIntervalSince(now) > renewBefore {
            return cached
        }
        // Signed outside the lock: two handshakes racing for a new name may both sign, and the
        // later one is kept; neither waits behind the other's signature.
        let issued = try issue(names: [try ca.scope.check(host)], label: key, now: now)
        cache.withLock { $0.put(key, issued) }
        return issued
    }

    /// The certificate for a client that sent no SNI (it connected to an address): `localhost`,
    /// 127.0.0.1 and ::1 in one leaf. Not cached: the TLS configuration holds it.
    public func defaultCertificate(now: Date = Date()) throws -> IssuedCertificate {
        let names = try ["localhost", "127.0.0.1", "::1"].map { try ca.scope.check($0) }
        return try issue(names: names, label: "localhost", now: now)
    }

    func issue(names: [GeneralName], label: String, now: Date) throws -> IssuedCertificate {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        // The name in CN too, for old tools that show only the subject; not an address (OpenSSL
        // checks a SAN-less-looking CN of digits and dots against the DNS constraints) and not past
        // X.520's 64 characters.
        let inCommonName = label.utf8.count <= 64 && NameScope.loopbackBytes(label) == nil
        let subject = try DistinguishedName {
            OrganizationName("devhost")
            if inCommonName { CommonName(label) }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        // An hour back: a client whose clock is a little behind still accepts a leaf made just now.
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now - 3600, notValidAfter: min(now + validity, ca.certificate.notValidAfter),
            issuer: ca.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: ca.privateKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return IssuedCertificate(
            name: label, certificate: certificate, privateKey: Certificate.PrivateKey(key),
            sslCertificate: try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
            sslPrivateKey: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem))
    }
}

/// A bounded map that forgets the entry used longest ago. Eviction scans for the oldest use: at a
/// thousand entries that is a few microseconds, beside the ~0.1 ms that signing a new leaf takes.
struct LeastRecentlyUsed<Value> {
    private var entries: [String: (value: Value, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }

    mutating func get(_ key: String) -> Value? {
        guard let entry = entries[key] else { return nil }
        clock += 1
        entries[key] = (entry.value, clock)
        return entry.value
    }

    mutating func put(_ key: String, _ value: Value) {
        clock += 1
        entries[key] = (value, clock)
        if entries.count > capacity, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries.removeValue(forKey: oldest)
        }
    }
}
