/// The keys a manifest may use at each level. The JSON Schema (`ManifestSchema`) is written by hand and a
/// test checks it names exactly these keys, so the editor's view and the parser's never drift apart.
public enum ManifestKeys {
    public static let root = ["name", "proxy", "env_file", "env", "services", "compose"]
    public static let proxy = ["port", "bind", "domain", "https_port", "https", "inspect"]
    public static let service = [
        "command", "cwd", "env", "env_file", "port", "route", "replicas", "depends_on", "health", "restart",
        "max_restarts", "setup", "setup_inputs", "stop_signal", "stop_timeout", "image", "compose", "host_header",
        "watch", "forward", "profiles", "protocol",
    ]
    public static let health = [
        "http", "tcp", "exec", "postgres", "redis", "mysql", "kafka", "grpc", "interval", "timeout", "retries", "start_period",
    ]
    public static let postgresHealth = ["user", "database"]
    public static let redisHealth = ["user", "password"]
    public static let dependency = ["condition"]
    public static let route = ["host", "path", "strip_prefix"]
    public static let forward = ["ssh", "kubectl", "remote"]
    public static let forwardSSH = ["host", "user", "port", "jump", "identity_file"]
    public static let forwardKubectl = ["context", "namespace", "target", "remote_port"]
}
