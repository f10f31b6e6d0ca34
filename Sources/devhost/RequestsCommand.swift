import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List the requests the proxy served most recently (the request inspector), or show one.",
        discussion: """
            Secrets (Authorization, Cookie, Set-Cookie, Proxy-Authorization) are masked unless --unmask \
            turns masking off for the running session (--mask turns it on again). `devhost replay ID` \
            sends one again.
            """
    )

    // -f means follow here, as in `devhost logs -f`, so the manifest is --file only.
    @Option(name: .customLong("file"), help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    @Argument(help: "A request's id: show it whole (headers, bodies, timings).")
    var id: Int?

    @Flag(name: .shortAndLong, help: "Keep printing requests as they end.")
    var follow = false

    @Option(help: "Only this service's requests (repeatable).")
    var service: [String] = []

    @Option(help: "Only this status class or status (5xx, 404).")
    var status: String?

    @Option(help: "Only targets starting with this path.")
    var path: String?

    @Option(help: "Only requests with this text in the method, host, target, headers or bodies.")
    var text: String?

    @Flag(help: "Print JSON (one object per line).")
    var json = false

    @Flag(help: "Show secrets unmasked from now on, for the running session.")
    var unmask = false

    @Flag(help: "Mask secrets again.")
    var mask = false

    func run() throws {
        if let status, let problem = RequestFilter.problem(status: status) { throw CommandFailure(message: problem) }
        let client = ControlClient(state: try ProjectOptions(file: file).state())
        do {
            if unmask || mask {
                let answer = try client.post("/v1/requests/masking?masked=\(mask ? 1 : 0)")
                guard answer.status == 200 else { throw CommandFailure(message: answer.message) }
            }
            if let id {
                let answer = try client.get("/v1/requests/\(id)")
                guard answer.status == 200 else { throw CommandFailure(message: answer.message) }
                return Console.standardOutput.line(json ? answer.text.trimmingCharacters(in: .newlines) : RequestText.detail(answer.body))
            }
            var query = service.map { "service=\(Self.escaped($0))" }
            if let status { query.append("status=\(Self.escaped(status))") }
            if let path { query.append("path=\(Self.escaped(path))") }
            if let text { query.append("text=\(Self.escaped(text))") }
            if follow {
                let status = try client.lines("/v1/requests?" + (query + ["follow=1"]).joined(separator: "&")) { line in
                    guard !line.isEmpty else { return true }
                    Console.standardOutput.line(json ? String(line) : RequestText.summary(Data(line.utf8)))
                    return true
                }
                if status != 200 { throw CommandFailure(message: "devhost answered \(status)") }
                return
            }
            let answer = try client.get("/v1/requests?" + query.joined(separator: "&"))
            guard answer.status == 200 else { throw CommandFailure(message: answer.message) }
            guard let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
                let requests = object["requests"] as? [[String: Any]]
            else { throw CommandFailure(message: "devhost answered something other than a request list") }
            for request in requests {
                let data = (try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])) ?? Data()
                Console.standardOutput.line(json ? String(decoding: data, as: UTF8.self) : RequestText.summary(data))
            }
        } catch let failure as ControlClient.Failure {
            throw CommandFailure(message: "\(failure)")
        }
    }

    static func escaped(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? value
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send a recorded request again through the proxy, as it was or edited.")

    @OptionGroup var project: ProjectOptions

    @Argument(help: "The request's id (from `devhost requests`).")
    var id: Int

    @Option(name: [.customShort("X"), .customLong("method")], help: "Another method.")
    var method: String?

    @Option(help: "Another target (path and query).")
    var target: String?

    @Option(
        name: [.customShort("H"), .customLong("header")], help: "A header to set, as 'Name: value' (repeatable; replaces one of that name)."
    )
    var headers: [String] = []

    @Option(name: [.short, .customLong("data")], help: "Another body.")
    var data: String?

    func run() throws {
        var edits: [(String, JSONValue)] = []
        if let method { edits.append(("method", .string(method))) }
        if let target { edits.append(("target", .string(target))) }
        let client = ControlClient(state: try project.state())
        do {
            if !headers.isEmpty {
                let detail = try client.get("/v1/requests/\(id)")
                guard detail.status == 200 else { throw CommandFailure(message: detail.message) }
                var fields = RequestText.headers(detail.body, key: "request")
                for header in headers {
                    guard let colon = header.firstIndex(of: ":") else { throw CommandFailure(message: "-H \(header) is not 'Name: value'") }
                    let name = header[..<colon].trimmingCharacters(in: .whitespaces)
                    let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    fields.removeAll { $0.0.lowercased() == name.lowercased() }
                    fields.append((name, value))
                }
                edits.append(("headers", .array(fields.map { .array([.string($0.0), .string($0.1)]) })))
            }
            if let data { edits.append(("body", .string(data))) }
            let body = edits.isEmpty ? [] : Array(JSONValue.object(edits).serialized().utf8)
            let answer = try client.request("POST", "/v1/requests/\(id)/replay", body: body)
            guard answer.status == 200, let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any] else {
                throw CommandFailure(message: answer.message)
            }
            let newID = (object["id"] as? Int).map { "#\($0)" } ?? "(not recorded)"
            Console.standardOutput.line(
                "replayed #\(id) as \(newID): \(object["status"] as? Int ?? 0) (request id \(object["request_id"] as? String ?? ""))")
        } catch let failure as ControlClient.Failure {
            throw CommandFailure(message: "\(failure)")
        }
    }
}
