import Foundation

extension ManifestDecoder {
    /// A forward has no command (devhost runs ssh or kubectl itself), one instance, and a port.
    mutating func checkForward(_ service: Service, base: String, sawCommand: Bool) {
        let location = service.locations["forward"] ?? service.location
        if sawCommand {
            reader.fail(
                "\(base).command", "a forward service has no command (devhost runs ssh or kubectl itself): remove command or forward",
                at: service.locations["command"] ?? location)
        }
        if service.port == .none {
            reader.fail(
                "\(base).port", "a forward needs a local port: a number, or auto (kept in .devhost/)",
                at: service.locations["port"] ?? location)
        }
        if service.replicas > 1 {
            reader.fail(
                "\(base).replicas", "a forward runs once (one tunnel on one local port); remove replicas",
                at: service.locations["replicas"] ?? location)
        }
    }

    /// `forward:` with exactly one of `ssh` (and `remote`) or `kubectl`, every problem named with its position.
    mutating func decodeForward(_ node: YAMLNode, _ path: String) -> Forward? {
        guard let entries = reader.mapping(node, path, allowed: ManifestKeys.forward) else { return nil }
        let byKey = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        switch (byKey["ssh"], byKey["kubectl"]) {
        case (nil, nil):
            reader.fail(path, "needs ssh: {host, …} with remote: HOST:PORT, or kubectl: {target, remote_port}", at: node.location)
            return nil
        case (.some, .some):
            reader.fail(path, "has ssh and kubectl: a forward goes one way, choose one", at: node.location)
            return nil
        case (let ssh?, nil):
            guard let remote = byKey["remote"] else {
                reader.fail("\(path).remote", "is missing: HOST:PORT as the ssh host sees it (e.g. db.internal:5432)", at: ssh.keyLocation)
                return nil
            }
            return decodeSSH(ssh.value, "\(path).ssh", remote: remote.value, remotePath: "\(path).remote").map { Forward(.ssh($0)) }
        case (nil, let kubectl?):
            if let remote = byKey["remote"] {
                reader.fail("\(path).remote", "belongs to ssh forwards; kubectl takes remote_port inside kubectl:", at: remote.keyLocation)
            }
            return decodeKubectl(kubectl.value, "\(path).kubectl").map { Forward(.kubectl($0)) }
        }
    }

    private mutating func decodeSSH(_ node: YAMLNode, _ path: String, remote: YAMLNode, remotePath: String) -> SSHForward? {
        guard let entries = reader.mapping(node, path, allowed: ManifestKeys.forwardSSH) else { return nil }
        var host: String?
        var forward = SSHForward(host: "", remoteHost: "", remotePort: 0)
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            let value = entry.value
            switch entry.key {
            case "host":
                if let text = reader.nonEmptyString(value, keyPath) {
                    if text.contains(where: { $0 == " " || $0 == "@" || $0 == "/" }) || text.hasPrefix("-") {
                        reader.fail(keyPath, "\"\(text)\" is not a host name (put the user in user:)", at: value.location)
                    } else {
                        host = text
                    }
                }
            case "user":
                if let text = reader.nonEmptyString(value, keyPath) {
                    if text.contains(where: { $0 == " " || $0 == "@" }) || text.hasPrefix("-") {
                        reader.fail(keyPath, "\"\(text)\" is not a user name", at: value.location)
                    } else {
                        forward.user = text
                    }
                }
            case "port": forward.port = reader.int(value, keyPath, in: 1...65535)
            case "jump":
                for (index, jump) in (reader.stringList(value, keyPath) ?? []).enumerated() {
                    if jump.isEmpty || jump.hasPrefix("-") || jump.contains(where: { $0 == " " || $0 == "," }) {
                        reader.fail("\(keyPath)[\(index)]", "\"\(jump)\" is not [user@]host[:port]", at: value.location)
                    } else {
                        forward.jump.append(jump)
                    }
                }
            case "identity_file":
                if let text = reader.nonEmptyString(value, keyPath) {
                    forward.identityFile = text.hasPrefix("/") || text.hasPrefix("~") ? text : directory + "/" + text
                }
            default: break
            }
        }
        guard let host else {
            if !entries.contains(where: { $0.key == "host" }) { reader.fail("\(path).host", "is missing: the ssh host", at: node.location) }
            return nil
        }
        forward.host = host
        guard let text = reader.nonEmptyString(remote, remotePath) else { return nil }
        guard let (remoteHost, remotePort) = SSHForward.parseRemote(text) else {
            reader.fail(remotePath, "\"\(text)\" is not HOST:PORT (e.g. db.internal:5432, [::1]:6379)", at: remote.location)
            return nil
        }
        forward.remoteHost = remoteHost
        forward.remotePort = remotePort
        return forward
    }

    private mutating func decodeKubectl(_ node: YAMLNode, _ path: String) -> KubectlForward? {
        guard let entries = reader.mapping(node, path, allowed: ManifestKeys.forwardKubectl) else { return nil }
        var forward = KubectlForward(target: "", remotePort: 0)
        var complete = true
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            let value = entry.value
            switch entry.key {
            case "context": forward.context = reader.nonEmptyString(value, keyPath)
            case "namespace":
                if let text = reader.nonEmptyString(value, keyPath) {
                    if let problem = DNSLabel.problem(text) {
                        reader.fail(keyPath, "\"\(text)\" is not a namespace: it \(problem)", at: value.location)
                    } else {
                        forward.namespace = text
                    }
                }
            case "target":
                guard let text = reader.nonEmptyString(value, keyPath) else {
                    complete = false
                    continue
                }
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 2, KubectlForward.targetKinds.contains(String(parts[0])),
                    DNSLabel.problem(String(parts[1]), allowDots: true) == nil
                {
                    forward.target = text
                } else {
                    complete = false
                    reader.fail(keyPath, "\"\(text)\" is not pod/NAME, svc/NAME or deploy/NAME", at: value.location)
                }
            case "remote_port":
                if let port = reader.int(value, keyPath, in: 1...65535) { forward.remotePort = port } else { complete = false }
            default: break
            }
        }
        for key in ["target", "remote_port"] where !entries.contains(where: { $0.key == key }) {
            complete = false
            reader.fail(
                "\(path).\(key)",
                key == "target" ? "is missing: pod/NAME, svc/NAME or deploy/NAME" : "is missing: the port inside the cluster",
                at: node.location)
        }
        return complete ? forward : nil
    }
}
