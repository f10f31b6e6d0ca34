import DevhostManifest

/// What `devhost kube` takes besides the manifest.
public struct KubeOptions: Sendable, Equatable {
    /// Written into kustomization.yaml (`namespace:`) and used for the job-waiting RoleBinding's subject.
    public var namespace: String?
    /// Registry and team that built images are pushed to: `ghcr.io/acme` → `ghcr.io/acme/shop-api`.
    public var imagePrefix: String?
    /// `spec.ingressClassName`; the cluster's default class when nil.
    public var ingressClass: String?
    /// Route hosts are `ROUTE.DOMAIN` (and `DOMAIN` for `@`); default `PROJECT.` + the manifest's proxy domain.
    public var domain: String?

    public init(namespace: String? = nil, imagePrefix: String? = nil, ingressClass: String? = nil, domain: String? = nil) {
        self.namespace = namespace
        self.imagePrefix = imagePrefix
        self.ingressClass = ingressClass
        self.domain = domain
    }

    /// Checks every value and returns them normalised (a trailing `/` dropped from the prefix, the domain lowercased).
    public func validated() throws(KubeError) -> KubeOptions {
        var options = self
        if let namespace, !KubeNames.isLabel(namespace) {
            throw .badOption(
                flag: "--namespace", value: namespace, reason: "a namespace is a DNS label: lowercase letters, digits and '-', at most 63")
        }
        if let ingressClass, !KubeNames.isSubdomain(ingressClass) {
            throw .badOption(
                flag: "--ingress-class", value: ingressClass,
                reason: "an ingress class is a DNS subdomain: lowercase letters, digits, '-' and '.'")
        }
        if var domain {
            domain = domain.lowercased()
            if domain.hasSuffix(".") { domain.removeLast() }
            guard KubeNames.isSubdomain(domain), domain.contains(where: \.isLetter) else {
                throw .badOption(flag: "--domain", value: self.domain ?? "", reason: "expected a DNS name such as staging.example.com")
            }
            options.domain = domain
        }
        if var prefix = imagePrefix {
            while prefix.hasSuffix("/") { prefix.removeLast() }
            guard KubeNames.isImagePrefix(prefix) else {
                throw .badOption(
                    flag: "--image-prefix", value: imagePrefix ?? "",
                    reason: "expected REGISTRY/TEAM such as ghcr.io/acme (lowercase, no tag; a registry may have a :port)")
            }
            options.imagePrefix = prefix
        }
        return options
    }
}

/// Why `devhost kube` cannot write: a bad option, a service whose name Kubernetes cannot take, or a manifest string it cannot parse.
public enum KubeError: Error, Sendable, Equatable, CustomStringConvertible {
    case badOption(flag: String, value: String, reason: String)
    case badServiceName(service: String, location: SourceLocation?, reason: String)
    case badValue(path: String, location: SourceLocation?, reason: String)

    public var description: String {
        switch self {
        case .badOption(let flag, let value, let reason):
            return "\(flag) \"\(value)\": \(reason)"
        case .badServiceName(let service, let location, let reason):
            return "services.\(service): \(reason)\(where: location)"
        case .badValue(let path, let location, let reason):
            return "\(path): \(reason)\(where: location)"
        }
    }
}

extension String.StringInterpolation {
    fileprivate mutating func appendInterpolation(where location: SourceLocation?) {
        if let location { appendLiteral(" (\(location))") }
    }
}

/// Kubernetes names, and image references as kustomize's `images:` reads them.
enum KubeNames {
    /// RFC 1123 label, which is also what a Service name (RFC 1035: starts with a letter) needs when it starts with one.
    static func isLabel(_ text: String) -> Bool {
        guard let first = text.first, let last = text.last, text.count <= 63 else { return false }
        let allowed = text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
        return allowed && (first.isLowercase || first.isNumber) && (last.isLowercase || last.isNumber)
    }

    static func isSubdomain(_ text: String) -> Bool {
        text.count <= 253 && !text.isEmpty
            && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    /// `registry[:port]/path/…` with lowercase path components, no tag or digest.
    static func isImagePrefix(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, !text.contains("@") else { return false }
        let registry = first.split(separator: ":", omittingEmptySubsequences: false)
        guard registry.count <= 2, isSubdomain(String(registry[0]).lowercased()), registry.count == 1 || Int(registry[1]) != nil else {
            return false
        }
        let pathAllowed: (Character) -> Bool = { $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.allSatisfy(pathAllowed) }
    }

    /// A service's name as a Kubernetes object name: lowercase, `_` → `-`; a Service needs a letter first.
    static func objectName(of service: Service) throws(KubeError) -> String {
        let name = service.name.lowercased().replacingOccurrences(of: "_", with: "-")
        guard isLabel(name), name.first?.isLetter == true else {
            throw .badServiceName(
                service: service.name, location: service.location,
                reason:
                    "\"\(name)\" cannot name a Kubernetes Service (a DNS label that starts with a letter, at most 63 characters); rename the service"
            )
        }
        return name
    }

    /// Splits `registry:5000/team/app:1.2@sha256:…` into the name kustomize matches and the tag or digest.
    static func splitImage(_ reference: String) -> (name: String, tag: String?, digest: String?) {
        var rest = reference
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = String(rest[..<at])
        }
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":") {
            return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]), digest)
        }
        return (rest, nil, digest)
    }
}
