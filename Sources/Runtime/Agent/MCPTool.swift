import DevhostManifest
import Foundation

/// One tool an agent can call: its schemas (what `tools/list` says) and what it does.
public struct MCPTool: Sendable {
    public var name: String
    public var title: String
    public var description: String
    public var inputSchema: JSONValue
    public var outputSchema: JSONValue?
    /// Changes nothing (`readOnlyHint`); the rest may stop processes (`destructiveHint`).
    public var readOnly: Bool
    public var run: @Sendable (JSONValue) async -> MCPToolResult

    public init(
        name: String, title: String, description: String, inputSchema: JSONValue, outputSchema: JSONValue?, readOnly: Bool,
        run: @escaping @Sendable (JSONValue) async -> MCPToolResult
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.readOnly = readOnly
        self.run = run
    }

    var listing: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("name", .string(name)), ("title", .string(title)), ("description", .string(description)), ("inputSchema", inputSchema),
        ]
        if let outputSchema { fields.append(("outputSchema", outputSchema)) }
        fields.append(
            (
                "annotations",
                .object([
                    ("title", .string(title)), ("readOnlyHint", .bool(readOnly)), ("destructiveHint", .bool(!readOnly)),
                    ("idempotentHint", .bool(readOnly)), ("openWorldHint", .bool(false)),
                ])
            ))
        return .object(fields)
    }
}

/// What a tool call answers: text for the model, the same facts structured (matching the tool's
/// output schema), and whether it failed. A failure is a result, never a JSON-RPC error, so the
/// agent reads the message the CLI would have printed.
public struct MCPToolResult: Sendable {
    public var text: String
    public var structured: JSONValue?
    public var isError: Bool

    public init(text: String, structured: JSONValue? = nil, isError: Bool = false) {
        self.text = text
        self.structured = structured
        self.isError = isError
    }

    public static func failure(_ message: String) -> MCPToolResult {
        MCPToolResult(text: message, isError: true)
    }

    var json: JSONValue {
        var fields: [(String, JSONValue)] = [("content", .array([.object([("type", .string("text")), ("text", .string(text))])]))]
        if let structured { fields.append(("structuredContent", structured)) }
        fields.append(("isError", .bool(isError)))
        return .object(fields)
    }
}

/// JSON Schema fragments for tool schemas.
enum Schema {
    static func object(_ properties: [(String, JSONValue)], required: [String] = [], closed: Bool = true) -> JSONValue {
        var fields: [(String, JSONValue)] = [("type", .string("object")), ("properties", .object(properties))]
        if !required.isEmpty { fields.append(("required", .array(required.map(JSONValue.string)))) }
        if closed { fields.append(("additionalProperties", .bool(false))) }
        return .object(fields)
    }

    static func string(_ description: String? = nil) -> JSONValue { typed("string", description) }
    static func integer(_ description: String? = nil) -> JSONValue { typed("integer", description) }
    static func number(_ description: String? = nil) -> JSONValue { typed("number", description) }
    static let boolean = typed("boolean", nil)

    static func nullable(_ type: String) -> JSONValue {
        .object([("type", .array([.string(type), .string("null")]))])
    }

    static func array(_ items: JSONValue, _ description: String? = nil, minItems: Int? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("type", .string("array")), ("items", items)]
        if let minItems { fields.append(("minItems", .int(minItems))) }
        if let description { fields.append(("description", .string(description))) }
        return .object(fields)
    }

    static func typed(_ type: String, _ description: String?) -> JSONValue {
        var fields: [(String, JSONValue)] = [("type", .string(type))]
        if let description { fields.append(("description", .string(description))) }
        return .object(fields)
    }
}
