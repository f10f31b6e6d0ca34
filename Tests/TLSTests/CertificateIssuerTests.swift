import DevhostTestSupport
import Foundation
import SwiftASN1
import Testing
import X509

@testable import DevhostTLS

@Suite struct CertificateIssuerTests {
    @Test func anIssuedLeafVerifiesWithOpenSSL() throws {
        let temp = try TempCA()
        let issuer = CertificateIssuer(ca: temp.ca)
        let now = Date()
        let leaf = try issuer.certificate(for: "API.Shop.localhost.", now: now)
        let path = try temp.write("leaf.pem", leaf.certificate.pemString)
        let verify = try run([
            "openssl", "verify", "-CAfile", temp.files.certificate, "-purpose", "sslserver", "-verify_hostname", "api.shop.localhost", path,
        ])
        #expect(verify.status == 0 && verify.output.contains(": OK"), "\(verify.output)")
        let text = try run(["openssl", "x509", "-in", path, "-noout", "-text"])
        for line in ["DNS:api.shop.localhost", "TLS Web Server Authentication", "CA:FALSE", "Digital Signature", "NIST CURVE: P-256"] {
            #expect(text.output.contains(line), "\(line) in\n\(text.output)")
        }
        let days = leaf.certificate.notValidAfter.timeIntervalSince(now) / 86_400
        #expect(days > 29.99 && days < 30.01)
        // Another host name does not match it.
        let other = try run(["openssl", "verify", "-CAfile", temp.files.certificate, "-verify_hostname", "web.shop.localhost", path])
        #expect(other.status != 0)
    }

    /// The point of the name constraints: a certificate the CA's key signs for a real site (as a
    /// thief with the key would) fails verification, in OpenSSL and in swift-certificates' verifier.
    @Test(arguments: [
        GeneralName.dnsName("www.example.com"), .dnsName("localhost.example.com"),
        .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 1])),
    ])
    func aLeafForgedOutsideTheConstraintsFailsVerification(_ name: GeneralName) async throws {
        let temp = try TempCA()
        let forged = try CertificateIssuer(ca: temp.ca).issue(names: [name], label: "forged", now: Date())
        let path = try temp.write("forged.pem", forged.certificate.pemString)
        let verify = try run(["openssl", "verify", "-CAfile", temp.files.certificate, path])
        #expect(verify.status != 0)
        #expect(verify.output.contains("permitted subtree violation"), "\(verify.output)")

        var verifier = Verifier(rootCertificates: CertificateStore([temp.ca.certificate])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: forged.certificate, intermediates: CertificateStore())
        guard case .couldNotValidate = result else {
            Issue.record("swift-certificates accepted a forged leaf for \(name)")
            return
        }
    }

    @Test(arguments: [
        "example.com", "localhost.example.com", "evillocalhost", "*.localhost", "a..localhost", "-a.localhost", "", "127.0.0.2", "10.0.0.1",
        "::2",
    ])
    func namesOutsideTheConstraintsAreRefusedBeforeSigning(_ name: String) throws {
        let temp = try TempCA()
        let issuer = CertificateIssuer(ca: temp.ca)
        let error = #expect(throws: TLSError.self) { try issuer.certificate(for: name) }
        #expect(error?.description.contains("refused a certificate for \"\(name)\"") == true, "\(String(describing: error))")
        #expect(issuer.count == 0)
    }

    @Test(arguments: [
        ("localhost", "DNS:localhost"), ("x.localhost", "DNS:x.localhost"), ("127.0.0.1", "IP Address:127.0.0.1"),
        ("::1", "IP Address:0:0:0:0:0:0:0:1"), ("[::1]", "IP Address:0:0:0:0:0:0:0:1"),
    ])
    func namesInsideTheConstraintsAreIssued(_ name: String, _ san: String) throws {
        let temp = try TempCA()
        let leaf = try CertificateIssuer(ca: temp.ca).certificate(for: name)
        let path = try temp.write("leaf.pem", leaf.certificate.pemString)
        let text = try run(["openssl", "x509", "-in", path, "-noout", "-ext", "subjectAltName"])
        #expect(text.output.contains(san), "\(text.output)")
        #expect(try run(["openssl", "verify", "-CAfile", temp.files.certificate, path]).status == 0)
    }

    @Test func leavesAreCachedAndRenewedWhenLessThanAWeekIsLeft() throws {
        let temp = try TempCA()
        let issuer = CertificateIssuer(ca: temp.ca)
        let now = Date()
        let first = try issuer.certificate(for: "api.localhost", now: now)
        #expect(try issuer.certificate(for: "API.localhost", now: now + 60).certificate == first.certificate)
        #expect(try issuer.certificate(for: "api.localhost", now: now + 22 * 86_400).certificate == first.certificate)
        let renewed = try issuer.certificate(for: "api.localhost", now: now + 24 * 86_400)
        #expect(renewed.certificate.serialNumber != first.certificate.serialNumber)
        #expect(renewed.certificate.notValidAfter > first.certificate.notValidAfter)
        #expect(issuer.count == 1)
    }

    @Test func theCacheKeepsTheMostRecentlyUsed() throws {
        let temp = try TempCA()
        let issuer = CertificateIssuer(ca: temp.ca, capacity: 3)
        let a = try issuer.certificate(for: "a.localhost")
        let b = try issuer.certificate(for: "b.localhost")
        _ = try issuer.certificate(for: "c.localhost")
        _ = try issuer.certificate(for: "a.localhost")
        _ = try issuer.certificate(for: "d.localhost")
        #expect(issuer.count == 3)
        #expect(try issuer.certificate(for: "a.localhost").certificate == a.certificate, "a was used after b")
        #expect(try issuer.certificate(for: "b.localhost").certificate != b.certificate, "b was the oldest and was evicted")
    }

    @Test func handshakesOnManyThreadsShareOneIssuer() async throws {
        let temp = try TempCA()
        let issuer = CertificateIssuer(ca: temp.ca, capacity: 50)
        let serials = try await withThrowingTaskGroup(of: (String, Certificate.SerialNumber).self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var last: (String, Certificate.SerialNumber) = ("", .init())
                    for index in 0..<40 {
                        let name = "n\((index * 7 + worker) % 60).localhost"
                        last = (name, try issuer.certificate(for: name).certificate.serialNumber)
                    }
                    return last
                }
            }
            return try await group.reduce(into: [(String, Certificate.SerialNumber)]()) { $0.append($1) }
        }
        #expect(serials.count == 8)
        #expect(issuer.count <= 50)
    }
}
