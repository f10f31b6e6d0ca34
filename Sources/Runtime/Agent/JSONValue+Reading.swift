import DevhostManifest
import Foundation

/// Reads JSON-RPC messages into the manifest module's `JSONValue` (which writes them); a wrapper,
/// so the manifest's type gains no conformance behind its module's back. Keys of an incoming object
/// lose their order, which nothing here depends on.
struct JSONReading: Decodable {
    var value: JSONValue

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let bool = try? container.decode(Bool.self) {
            // Before numbers: JSONDecoder reads only `true`/`false` as a Bool, never 1 or 0.
            value = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            value = .number(number)
        } else if let string = try? container.decode(String.self) {
            value = .string(string)
        } else if let array = try? container.decode([JSONReading].self) {
            value = .array(array.map(\.value))
        } else {
            let object = try container.decode([String: JSONReading].self)
            value = .object(object.sorted { $0.key < $1.key }.map { ($0.key, $0.value.value) })
        }
    }
}

extension JSONValue {
    public static func parse(_ text: some StringProtocol) throws -> JSONValue {
        try JSONDecoder().decode(JSONReading.self, from: Data(text.utf8)).value
    }

    /// Any `Encodable` (a `StatusReport`, a `LogLine`) as a value, with the API's snake_case keys.
    static func encoding(_ value: some Encodable) -> JSONValue {
        (try? parse(StatusReport.encoded(value))) ?? .null
    }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var int: Int? {
        if case .number(let value) = self, value == value.rounded(), abs(value) < 1e15 { return Int(value) }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }
}
