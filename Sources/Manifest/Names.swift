import Foundation

/// Host-name labels (RFC 1123): project names and routes become parts of `api.shop.localhost`.
public enum DNSLabel {
    /// Why `text` is not a usable label, or nil when it is.
    public static func problem(_ text: String, allowDots: Bool = false) -> String? {
        if allowDots, text.contains(".") {
            for part in text.split(separator: ".", omittingEmptySubsequences: false) {
                if let problem = problem(String(part)) { return problem }
            }
            return nil
        }
        if text.isEmpty { return "is empty" }
        if text.utf8.count > 63 { return "is longer than 63 characters" }
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            return "may only contain letters, digits and '-'"
        }
        if text.hasPrefix("-") || text.hasSuffix("-") { return "must not start or end with '-'" }
        return nil
    }

    /// A label made from an arbitrary folder name: `My App` → `my-app`.
    public static func sanitize(_ text: String) -> String {
        var label = String(text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        while label.contains("--") { label = label.replacingOccurrences(of: "--", with: "-") }
        label = String(label.drop(while: { $0 == "-" }))
        while label.hasSuffix("-") { label.removeLast() }
        if label.isEmpty { return "app" }
        return String(label.prefix(63))
    }
}

/// Service names appear in routes, compose service names, log prefixes and `${svc.url}` references.
public enum ServiceName {
    public static func problem(_ name: String) -> String? {
        guard let first = name.first else { return "is empty" }
        guard first.isASCII, first.isLetter || first.isNumber else { return "must start with a letter or digit" }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return "may only contain letters, digits, '-' and '_'"
        }
        if name.count > 63 { return "is longer than 63 characters" }
        return nil
    }
}
