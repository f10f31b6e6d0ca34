import Foundation

/// The status answer read into the model top uses, with `StatusJSON` instead of JSONDecoder: the
/// same `StatusReport` as `StatusReport.decode` gives (snake_case keys, unknown keys ignored, a
/// missing or null optional is nil, integers must fit), checked by `StatusJSONTests`.
extension StatusReport {
    static func read(_ bytes: [UInt8]) throws -> StatusReport {
        let top = try Fields(StatusJSON.parse(bytes), path: "")
        let startedText = try top.string("started_at")
        guard let startedAt = TopApp.utcDate(startedText) else {
            throw StatusJSONError(message: "started_at: not an ISO 8601 UTC time: \(startedText)")
        }
        let proxy = try top.optional("proxy").map { value in
            let fields = try Fields(value, path: "proxy")
            return Proxy(
                bind: try fields.string("bind"), port: try fields.integer("port"), domain: try fields.string("domain"),
                httpsPort: try fields.optionalInteger("https_port"))
        }
        let services = try top.elements("services").map { path, value in
            let service = try Fields(value, path: path)
            let routes = try service.elements("routes").map { path, value in
                guard case .string(let text) = value else { throw StatusJSONError(message: "\(path): expected a string") }
                return text
            }
            let instances = try service.elements("instances").map { path, value in
                let fields = try Fields(value, path: path)
                return InstanceStatus(
                    label: try fields.string("label"), index: try fields.integer("index"), pid: try fields.optionalInteger("pid"),
                    port: try fields.optionalInteger("port"), state: try fields.string("state"), health: try fields.string("health"),
                    ok: try fields.bool("ok"), failed: try fields.bool("failed"), restarts: try fields.integer("restarts"),
                    uptimeSeconds: try fields.optionalDouble("uptime_seconds"), lastError: try fields.optionalString("last_error"),
                    healthDetail: try fields.optionalString("health_detail"))
            }
            return ServiceStatus(
                name: try service.string("name"), routes: routes, port: try service.optionalInteger("port"), instances: instances,
                remote: try service.optionalString("remote"))
        }
        let faults = try top.optional("faults").map { value in
            guard case .array = value else { throw StatusJSONError(message: "faults: expected an array") }
            return try top.elements("faults").map { path, value in
                let fields = try Fields(value, path: path)
                func number(_ key: String) throws -> Double {
                    guard let value = try fields.optionalDouble(key) else { throw fields.wrong(key, "a number") }
                    return value
                }
                return FaultStatus(
                    id: try fields.string("id"), service: try fields.string("service"), path: try fields.optionalString("path"),
                    latencyMs: try fields.integer("latency_ms"), jitterMs: try fields.integer("jitter_ms"),
                    errorStatus: try fields.integer("error_status"), errorRate: try number("error_rate"),
                    resetRate: try number("reset_rate"), bandwidthBytesPerSecond: try fields.integer("bandwidth_bytes_per_second"),
                    expiresInSeconds: try number("expires_in_seconds"), summary: try fields.string("summary"))
            }
        }
        return StatusReport(
            project: try top.string("project"), directory: try top.string("directory"), pid: try top.integer("pid"),
            startedAt: startedAt, ready: try top.bool("ready"), ok: try top.bool("ok"), proxy: proxy, services: services,
            faults: faults)
    }
}

/// One JSON object's members, with its path for the errors.
private struct Fields {
    let members: [String: StatusJSON.Value]
    let path: String

    init(_ value: StatusJSON.Value, path: String) throws {
        guard case .object(let members) = value else {
            throw StatusJSONError(message: "\(path.isEmpty ? "the answer" : path): expected an object")
        }
        (self.members, self.path) = (members, path)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func wrong(_ key: String, _ expected: String) -> StatusJSONError {
        StatusJSONError(message: "\(name(key)): expected \(expected)")
    }

    /// nil when the key is missing or null, as `decodeIfPresent` has it.
    func optional(_ key: String) -> StatusJSON.Value? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    func required(_ key: String) throws -> StatusJSON.Value {
        guard let value = optional(key) else { throw StatusJSONError(message: "\(name(key)): missing") }
        return value
    }

    func string(_ key: String) throws -> String {
        guard case .string(let text) = try required(key) else { throw wrong(key, "a string") }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        guard optional(key) != nil else { return nil }
        return try string(key)
    }

    func bool(_ key: String) throws -> Bool {
        guard case .bool(let flag) = try required(key) else { throw wrong(key, "true or false") }
        return flag
    }

    func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard case .number(let text) = try required(key), let number = Self.whole(text, as: type) else {
            throw wrong(key, "an integer that fits \(T.self)")
        }
        return number
    }

    func optionalInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws -> T? {
        guard optional(key) != nil else { return nil }
        return try integer(key, as: type)
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let value = optional(key) else { return nil }
        guard case .number(let text) = value, let number = Double(text), number.isFinite else { throw wrong(key, "a number") }
        return number
    }

    func elements(_ key: String) throws -> [(String, StatusJSON.Value)] {
        guard case .array(let values) = try required(key) else { throw wrong(key, "an array") }
        return values.enumerated().map { ("\(name(key))[\($0.offset)]", $0.element) }
    }

    /// Digits as they are; `1e2` or `3.0` as JSONDecoder takes them, when the value is a whole
    /// number that fits.
    static func whole<T: FixedWidthInteger>(_ text: String, as type: T.Type) -> T? {
        if let exact = T(text) { return exact }
        guard let double = Double(text), double.rounded() == double, let whole = T(exactly: double) else { return nil }
        return whole
    }
}
