import DevhostManifest

/// The output schemas of the tools. Open objects (no `additionalProperties: false`): a field added
/// to `/v1/status` later must not make an older client reject the answer.
enum AgentSchemas {
    static let instance = Schema.object(
        [
            ("label", Schema.string("api.1")), ("index", Schema.integer()), ("pid", Schema.integer()),
            ("port", Schema.integer("The port it listens on.")),
            ("state", Schema.string("starting, healthy, running, unhealthy, stopped, failed, completed, …")),
            ("health", Schema.string("ok, failing, pending, or - without a health check")), ("ok", Schema.boolean),
            ("failed", Schema.boolean), ("restarts", Schema.integer("Unrequested restarts (crashes, failed health).")),
            ("uptime_seconds", Schema.number()),
        ], required: ["label", "state", "health", "ok", "restarts"], closed: false)

    static let service = Schema.object(
        [
            ("name", Schema.string()), ("routes", Schema.array(Schema.string(), "Public URLs through the proxy.")),
            ("port", Schema.integer("The stable loopback port other services use.")), ("instances", Schema.array(instance)),
        ], required: ["name", "routes", "instances"], closed: false)

    static let status = Schema.object(
        [
            ("running", Schema.boolean), ("message", Schema.string()), ("project", Schema.string()), ("directory", Schema.string()),
            ("pid", Schema.integer()), ("started_at", Schema.string()),
            ("ready", Schema.typed("boolean", "Every service reached what it is for at least once.")),
            ("ok", Schema.typed("boolean", "Every instance is fine right now.")),
            (
                "proxy",
                Schema.object([("bind", Schema.string()), ("port", Schema.integer()), ("domain", Schema.string())], closed: false)
            ),
            ("services", Schema.array(service)),
        ], required: ["running"], closed: false)

    static let logLine = Schema.object(
        [("time", Schema.string()), ("service", Schema.string()), ("label", Schema.string()), ("line", Schema.string())],
        required: ["time", "service", "label", "line"], closed: false)

    static let logs = Schema.object(
        [
            ("lines", Schema.array(logLine)), ("matched", Schema.integer("Lines that matched before the caps.")),
            ("truncated", Schema.boolean),
        ], required: ["lines", "matched", "truncated"], closed: false)

    static let issue = Schema.object(
        [
            ("path", Schema.string("The key, e.g. services.api.health.interval")), ("message", Schema.string()),
            ("file", Schema.string()), ("line", Schema.integer()), ("column", Schema.integer()), ("text", Schema.string()),
        ], required: ["path", "message", "text"], closed: false)

    static let validate = Schema.object(
        [
            ("valid", Schema.boolean), ("file", Schema.string()), ("project", Schema.string()),
            (
                "services",
                Schema.array(
                    Schema.object(
                        [
                            ("name", Schema.string()), ("port", Schema.string("auto, none or a number")),
                            ("routes", Schema.array(Schema.string())),
                        ],
                        required: ["name"], closed: false))
            ),
            ("problems", Schema.array(issue)), ("warnings", Schema.array(issue)),
        ], required: ["valid", "problems", "warnings"], closed: false)

    static let doctor = Schema.object(
        [
            ("ok", Schema.boolean),
            (
                "findings",
                Schema.array(
                    Schema.object(
                        [
                            ("level", .object([("enum", .array([.string("ok"), .string("warn"), .string("fail")]))])),
                            ("text", Schema.string()), ("fix", Schema.string()),
                        ], required: ["level", "text"], closed: false))
            ),
            ("summary", Schema.string()),
        ], required: ["ok", "findings"], closed: false)

    static let command = Schema.object(
        [
            ("ok", Schema.boolean), ("exit_code", Schema.integer()), ("output", Schema.string("What the CLI printed.")),
            ("status", status),
        ], required: ["ok", "exit_code", "output"], closed: false)

    static let control = Schema.object(
        [
            ("ok", Schema.boolean),
            (
                "results",
                Schema.array(
                    Schema.object(
                        [
                            ("service", Schema.string()), ("done", Schema.boolean), ("message", Schema.string()),
                            ("instances", Schema.array(instance)),
                        ], required: ["service", "done", "message"], closed: false))
            ),
        ], required: ["ok", "results"], closed: false)
}
