import Foundation
import SwiftASN1
import X509

/// The names the local CA may vouch for: DNS names at or under `localhost` and the configured
/// domains, and the loopback addresses. The same list is the CA's name-constraints extension, so a
/// client refuses a certificate outside it even if the CA's key is stolen; `check` refuses such a
/// name before anything is signed, with an error that says why.
public struct NameScope: Sendable, Equatable {
    /// Lower-case, no leading or trailing dot. Per RFC 5280 §4.2.1.10 a DNS constraint covers the
    /// name itself and every name made by adding labels on the left: `localhost` permits `localhost`
    /// and `api.shop.localhost`, and nothing else.
    public let domains: [String]

    /// The loopback addresses, each a single-address range (/32 and /128).
    public static let loopbackAddresses: [[UInt8]] = [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]]

    /// `localhost` plus `extraDomains` (`proxy.domain` settings); each must be a valid DNS name.
    public init(extraDomains: [String] = []) throws {
        var domains = ["localhost"]
        for raw in extraDomains {
            let domain = try Self.normalize(raw)
            guard domain.contains(".") || domain == "localhost" else {
                throw TLSError(
                    "\(raw): a top-level name cannot be a CA's domain; use a name with at least two labels, such as dev.example.test")
            }
            if !domains.contains(where: { Self.name(domain, isWithin: $0) }) { domains.append(domain) }
        }
        self.domains = domains
    }

    init(domains: [String]) { self.domains = domains }

    /// The scope written in a CA certificate's name constraints.
    init(nameConstraints: NameConstraints) {
        self.domains = nameConstraints.permittedDNSDomains.map { $0.lowercased() }
    }

    /// Whether every domain of `other` is already inside this scope.
    public func covers(_ other: NameScope) -> Bool {
        other.domains.allSatisfy { domain in domains.contains { Self.name(domain, isWithin: $0) } }
    }

    /// The name-constraints extension for the CA certificate.
    var nameConstraints: NameConstraints {
        let ranges = Self.loopbackAddresses.map { address in
            ASN1OctetString(contentBytes: ArraySlice(address + [UInt8](repeating: 0xFF, count: address.count)))
        }
        return NameConstraints(permittedDNSDomains: domains, permittedIPRanges: ranges)
    }

    /// The subject alternative name for `host` (an SNI name or a loopback address), or an error naming
    /// the host and what the CA permits.
    public func check(_ host: String) throws -> GeneralName {
        if let address = Self.loopbackBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))) }
        let name: String
        do {
            name = try Self.normalize(host)
        } catch {
            throw TLSError("refused a certificate for \"\(host)\": \(error)")
        }
        guard domains.contains(where: { Self.name(name, isWithin: $0) }) else {
            throw TLSError(
                "refused a certificate for \"\(name)\": outside the devhost CA's name constraints (\(summary)); "
                    + "a name under another domain needs that domain in proxy.domain and a CA made for it")
        }
        return .dnsName(name)
    }

    /// `localhost, *.localhost, 127.0.0.1, ::1` and the extra domains, for messages.
    public var summary: String {
        (domains.flatMap { [$0, "*.\($0)"] } + ["127.0.0.1", "::1"]).joined(separator: ", ")
    }

    static func name(_ name: String, isWithin domain: String) -> Bool {
        name == domain || name.hasSuffix("." + domain)
    }

    /// Lower-cases and checks a DNS host name (letters, digits, hyphens; labels of 1-63; 253 at most;
    /// no wildcard: every name gets its own certificate). One trailing dot is dropped.
    static func normalize(_ raw: String) throws -> String {
        var name = raw.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { throw TLSError("not a DNS name: empty or longer than 253 bytes") }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else { throw TLSError("not a DNS name: an empty label or one over 63 bytes") }
            guard label.utf8.allSatisfy({ isLabelByte($0) }), label.first != "-", label.last != "-" else {
                throw TLSError("not a DNS name: \"\(label)\" has a character other than a-z, 0-9 and an inner hyphen")
            }
        }
        return name
    }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
    }

    static func loopbackBytes(_ host: String) -> [UInt8]? {
        var host = host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            let bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return bytes == loopbackAddresses[0] ? bytes : nil
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return bytes == loopbackAddresses[1] ? bytes : nil
        }
        return nil
    }
}
