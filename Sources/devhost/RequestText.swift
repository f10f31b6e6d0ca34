import Foundation

/// How `devhost requests` prints the control API's JSON: one line per request, or a detail.
enum RequestText {
    /// `#12 14:03:01.123 GET api.shop.localhost/items 200 3.1ms api.1 5f0c…`
    static func summary(_ json: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            return String(decoding: json, as: UTF8.self)
        }
        return summary(object)
    }

    static func summary(_ object: [String: Any]) -> String {
        let time = (object["time"] as? String).map { String($0.dropFirst(11).prefix(12)) } ?? ""
        let status = object["status"] as? Int ?? 0
        let state = object["state"] as? String ?? ""
        let total = ((object["timings"] as? [String: Any])?["total_ms"] as? Double).map { String(format: "%.1fms", $0) } ?? "…"
        var line = "#\(object["id"] as? Int ?? 0) \(time) \(object["method"] as? String ?? "") \(object["host"] as? String ?? "")"
        line += "\(object["target"] as? String ?? "") \(status == 0 ? state : String(status)) \(total)"
        if let instance = object["instance"] as? String { line += " → \(instance)" }
        line += " \(object["request_id"] as? String ?? "")"
        return line
    }

    static func headers(_ json: Data, key: String) -> [(String, String)] {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any], let part = object[key] as? [String: Any],
            let rows = part["headers"] as? [[String]]
        else { return [] }
        return rows.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }

    static func detail(_ json: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            return String(decoding: json, as: UTF8.self)
        }
        var lines = [summary(object)]
        if let timings = object["timings"] as? [String: Any] {
            let parts = ["upstream_wait_ms", "first_byte_ms", "total_ms"].map { key in
                "\(key.dropLast(3).replacingOccurrences(of: "_", with: " ")) \((timings[key] as? Double).map { String(format: "%.3fms", $0) } ?? "-")"
            }
            lines.append(parts.joined(separator: ", "))
        }
        for key in ["request", "response"] {
            lines.append("")
            lines.append("\(key):")
            for (name, value) in headers(json, key: key) { lines.append("  \(name): \(value)") }
            if let part = object[key] as? [String: Any], let body = part["body"] as? String, !body.isEmpty {
                let size = part["body_size"] as? Int ?? 0
                lines.append(
                    "  (\(size) bytes\(part["body_truncated"] as? Bool == true ? ", the first kept" : "")\(part["body_encoding"] as? String == "base64" ? ", base64" : ""))"
                )
                lines.append(body)
            }
        }
        return lines.joined(separator: "\n")
    }
}
