/// The JSON Schema of `devhost.yml` that `devhost schema` prints, for editors (yaml-language-server).
/// Written by hand for readable descriptions; `ManifestSchemaTests` keeps its keys equal to `ManifestKeys`.
public enum ManifestSchema {
    public static let json = #"""
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "$id": "https://devhost.localhost/schema/devhost.schema.json",
          "title": "devhost.yml",
          "description": "A devhost project: services run as supervised processes behind a local reverse proxy.",
          "type": "object",
          "required": ["services"],
          "additionalProperties": false,
          "patternProperties": { "^x-": {} },
          "properties": {
            "name": { "type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", "description": "Project name, used in host names (api.NAME.localhost). Default: the folder's name." },
            "proxy": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "port": { "type": "integer", "minimum": 1, "maximum": 65535, "default": 7777 },
                "bind": { "type": "string", "default": "127.0.0.1" },
                "domain": { "type": "string", "default": "localhost" },
                "https_port": { "type": "integer", "minimum": 0, "maximum": 65535, "default": 7443, "description": "HTTPS (HTTP/2 and HTTP/1.1) with certificates from devhost's CA; 0: none." },
                "https": { "enum": ["prefer", "both", "off"], "default": "prefer", "description": "prefer: browser navigations on HTTP go to HTTPS once the CA is trusted; both: no redirect; off: no HTTPS." },
                "inspect": { "type": "boolean", "default": true, "description": "Keep the most recent exchanges for the request inspector (devhost requests, the dashboard); false: record nothing." }
              }
            },
            "env_file": { "type": "string", "description": "A .env file loaded for every service (skipped when absent)." },
            "env": { "$ref": "#/definitions/env" },
            "services": {
              "type": "object",
              "minProperties": 1,
              "propertyNames": { "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$" },
              "additionalProperties": { "$ref": "#/definitions/service" }
            },
            "compose": { "type": "object", "description": "A docker-compose fragment merged into generated compose files." }
          },
          "definitions": {
            "duration": {
              "oneOf": [
                { "type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$|^[0-9]+(\\.[0-9]+)?$" },
                { "type": "number", "minimum": 0 }
              ]
            },
            "command": {
              "oneOf": [
                { "type": "string", "minLength": 1 },
                { "type": "array", "items": { "type": "string" }, "minItems": 1 }
              ]
            },
            "env": {
              "oneOf": [
                {
                  "type": "object",
                  "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                  "additionalProperties": { "type": ["string", "number", "boolean", "null"] }
                },
                { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*=" } }
              ]
            },
            "stringOrList": {
              "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
            },
            "health": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "http": { "type": "string", "pattern": "^/", "description": "GET this path; 2xx/3xx is healthy." },
                "tcp": { "type": "boolean", "description": "Healthy when the port accepts a connection." },
                "exec": { "$ref": "#/definitions/command", "description": "Healthy when the command exits 0." },
                "postgres": {
                  "oneOf": [
                    { "type": "boolean" },
                    {
                      "type": "object",
                      "additionalProperties": false,
                      "properties": {
                        "user": { "type": "string", "minLength": 1, "default": "postgres" },
                        "database": { "type": "string", "minLength": 1, "description": "Default: the user." }
                      }
                    }
                  ],
                  "description": "A PostgreSQL startup message; healthy once the server asks for authentication or is ready, not while it is starting up."
                },
                "redis": {
                  "oneOf": [
                    { "type": "boolean" },
                    {
                      "type": "object",
                      "additionalProperties": false,
                      "properties": { "password": { "type": "string" }, "user": { "type": "string" } }
                    }
                  ],
                  "description": "PING (after AUTH when a password is given) answered by +PONG."
                },
                "mysql": { "type": "boolean", "description": "Healthy when the server sends a protocol 10 greeting." },
                "kafka": { "type": "boolean", "description": "Healthy when the broker answers an ApiVersions request." },
                "grpc": { "type": "string", "description": "grpc.health.v1 Health/Check for this service name over h2c (\"\": the server as a whole); healthy when SERVING." },
                "interval": { "$ref": "#/definitions/duration", "default": "1s" },
                "timeout": { "$ref": "#/definitions/duration", "default": "1s" },
                "retries": { "type": "integer", "minimum": 1, "default": 3 },
                "start_period": { "$ref": "#/definitions/duration", "default": "30s" }
              }
            },
            "service": {
              "type": "object",
              "anyOf": [{ "required": ["command"] }, { "required": ["forward"] }],
              "additionalProperties": false,
              "patternProperties": { "^x-": {} },
              "properties": {
                "command": { "$ref": "#/definitions/command", "description": "A string runs through /bin/sh -c; a list is an argv." },
                "cwd": { "type": "string", "description": "Working directory, relative to devhost.yml." },
                "env": { "$ref": "#/definitions/env" },
                "env_file": { "type": "string" },
                "port": {
                  "oneOf": [
                    { "enum": ["auto", "none", false, null] },
                    { "type": "integer", "minimum": 1, "maximum": 65535 }
                  ],
                  "default": "auto"
                },
                "route": {
                  "oneOf": [
                    { "type": "string" },
                    { "$ref": "#/definitions/pathRoute" },
                    { "type": "array", "items": { "oneOf": [{ "type": "string" }, { "$ref": "#/definitions/pathRoute" }] } },
                    { "enum": [false, null] }
                  ],
                  "description": "Host label(s): api → api.NAME.localhost; @ → NAME.localhost; or { host, path, strip_prefix } for a path prefix under a host. Default: the service name."
                },
                "replicas": { "type": "integer", "minimum": 1, "maximum": 64, "default": 1 },
                "depends_on": {
                  "oneOf": [
                    { "type": "array", "items": { "type": "string" } },
                    {
                      "type": "object",
                      "additionalProperties": {
                        "oneOf": [
                          { "type": "null" },
                          { "$ref": "#/definitions/condition" },
                          {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": { "condition": { "$ref": "#/definitions/condition" } }
                          }
                        ]
                      }
                    }
                  ]
                },
                "health": { "oneOf": [{ "$ref": "#/definitions/health" }, { "enum": [false, null, "none"] }] },
                "restart": { "enum": ["no", "on-failure", "always", false], "default": "on-failure" },
                "max_restarts": { "type": "integer", "minimum": 0, "default": 5 },
                "setup": { "$ref": "#/definitions/command" },
                "setup_inputs": { "$ref": "#/definitions/stringOrList" },
                "stop_signal": { "type": "string", "default": "SIGTERM" },
                "stop_timeout": { "$ref": "#/definitions/duration", "default": "10s" },
                "image": { "type": "string" },
                "compose": { "type": "object" },
                "host_header": { "enum": ["preserve", "upstream"], "default": "preserve" },
                "protocol": { "enum": ["http1", "h2c", "grpc"], "default": "http1", "description": "What the port speaks: HTTP/1.1, HTTP/2 cleartext with prior knowledge (h2c), or gRPC (h2c with trailers; reached from HTTP/2 clients)." },
                "watch": { "$ref": "#/definitions/stringOrList" },
                "profiles": {
                  "type": "array",
                  "items": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$" },
                  "description": "Start this service only when one of these profiles is active (devhost up --profile NAME)."
                },
                "forward": { "$ref": "#/definitions/forward", "description": "A remote port brought here by ssh or kubectl port-forward, instead of a command." }
              }
            },
            "pathRoute": {
              "type": "object",
              "additionalProperties": false,
              "required": ["host"],
              "properties": {
                "host": { "type": "string", "description": "@ (the project's host) or a label." },
                "path": { "type": "string", "pattern": "^/", "description": "A path prefix, matched by whole segments: /api matches /api, /api/x and /api?q, not /apix." },
                "strip_prefix": { "type": "boolean", "default": false, "description": "Send the request without the prefix (/api/x → /x), with X-Forwarded-Prefix: /api." }
              }
            },
            "forward": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "ssh": {
                  "type": "object",
                  "additionalProperties": false,
                  "required": ["host"],
                  "properties": {
                    "host": { "type": "string", "minLength": 1 },
                    "user": { "type": "string", "minLength": 1 },
                    "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
                    "jump": { "$ref": "#/definitions/stringOrList", "description": "ProxyJump hosts, [user@]host[:port], in order." },
                    "identity_file": { "type": "string", "minLength": 1 }
                  }
                },
                "remote": { "type": "string", "pattern": ":[0-9]+$", "description": "HOST:PORT as the ssh host sees it." },
                "kubectl": {
                  "type": "object",
                  "additionalProperties": false,
                  "required": ["target", "remote_port"],
                  "properties": {
                    "context": { "type": "string", "minLength": 1 },
                    "namespace": { "type": "string", "minLength": 1 },
                    "target": { "type": "string", "pattern": "^(pods?|svc|services?|deploy|deployments?)/[a-z0-9.-]+$" },
                    "remote_port": { "type": "integer", "minimum": 1, "maximum": 65535 }
                  }
                }
              },
              "oneOf": [{ "required": ["ssh", "remote"] }, { "required": ["kubectl"] }]
            },
            "condition": {
              "enum": ["started", "healthy", "completed", "service_started", "service_healthy", "service_completed_successfully"]
            }
          }
        }
        """#
}
