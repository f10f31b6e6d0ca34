import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing

/// The init container that holds a pod back until a Job completes runs `kubectl wait` with the args
/// devhost writes. No cluster runs here, so a test double of the API server stands in for one: a
/// Python HTTP server answering the discovery, get, list and watch requests `kubectl wait` makes for one
/// Job, which reports the Job complete only after a delay. The real kubectl runs the generated args.
@Suite struct KubeWaitTests {
    /// The test double: `apiserver.py JOB SECONDS` prints its port, then serves the Job, complete after SECONDS.
    static let apiServerDouble = #"""
        import json, sys, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse, parse_qs
        JOB, AFTER = sys.argv[1], float(sys.argv[2])
        started = time.monotonic()
        def done(): return time.monotonic() - started >= AFTER
        def job(complete):
            conditions = [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}] if complete else []
            return {"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": conditions},
                    "metadata": {"name": JOB, "namespace": "default", "uid": "u1", "resourceVersion": "2" if complete else "1"}}
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def send(self, body, code=200):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            def do_GET(self):
                url = urlparse(self.path)
                query, path = parse_qs(url.query), url.path
                print("GET " + self.path, flush=True)
                jobs = "/apis/batch/v1/namespaces/default/jobs"
                if path == "/api": return self.send({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
                if path == "/api/v1": return self.send({"kind": "APIResourceList", "groupVersion": "v1", "resources": []})
                if path == "/apis":
                    version = {"groupVersion": "batch/v1", "version": "v1"}
                    return self.send({"kind": "APIGroupList", "groups": [{"name": "batch", "versions": [version], "preferredVersion": version}]})
                if path == "/apis/batch/v1":
                    resource = {"name": "jobs", "singularName": "job", "namespaced": True, "kind": "Job", "verbs": ["get", "list", "watch"]}
                    return self.send({"kind": "APIResourceList", "groupVersion": "batch/v1", "resources": [resource]})
                if path == jobs + "/" + JOB: return self.send(job(done()))
                if path == jobs and "watch" in query:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while not done(): time.sleep(0.05)
                    event = (json.dumps({"type": "MODIFIED", "object": job(True)}) + "\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()
                    time.sleep(60)
                    return
                if path == jobs: return self.send({"kind": "JobList", "metadata": {"resourceVersion": "1"}, "items": [job(done())]})
                self.send({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}, 404)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// The args of the init container devhost writes into `web`'s Deployment to wait for `migrate`.
    func generatedWaitArgs() throws -> [String] {
        let project = try TempProject([
            "devhost.yml": """
            services:
              migrate: { command: ./migrate, image: alpine, port: none, restart: "no" }
              web: { command: ./web, image: alpine, depends_on: { migrate: { condition: completed } } }
            """
        ])
        let output = try KubeExport(manifest: try project.load()).render(into: project.path + "/deploy/kube")
        let web = try #require(output.files.first { $0.name == "web.yaml" })
        let deployment = try #require(try kubeObjects([web.content])["Deployment/web"])
        let spec = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]) ?? [:]
        let wait = try #require((spec["initContainers"] as? [[String: Any]])?.first)
        #expect(wait["image"] as? String == KubeExport.kubectlImage)
        #expect(spec["serviceAccountName"] as? String == "wait-for-jobs")
        return try #require(wait["args"] as? [String])
    }

    /// Starts the double; returns it and its port.
    func startDouble(job: String, completeAfter seconds: Double, in folder: TempProject) async throws -> (ChildProcess, Int) {
        try folder.write("apiserver.py", Self.apiServerDouble)
        let double = try ChildProcess(argv: ["python3", folder.file("apiserver.py"), job, String(seconds)])
        var port: Int?
        _ = await eventually(timeout: .seconds(10)) {
            port = double.output.split(separator: "\n").first.flatMap { Int($0) }
            return port != nil
        }
        guard let port else {
            double.stop()
            throw CancellationError()
        }
        return (double, port)
    }

    func kubectl(_ args: [String], port: Int) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECONFIG"] = "/dev/null"
        // In a pod, kubectl finds the API server and namespace from its ServiceAccount; here they are given.
        return try ChildProcess(
            argv: ["kubectl", "--server=http://127.0.0.1:\(port)", "--namespace=default"] + args, environment: environment)
    }

    @Test func theInitContainerWaitsUntilTheJobCompletes() async throws {
        let args = try generatedWaitArgs()
        let folder = try TempProject()
        let (double, port) = try await startDouble(job: "migrate", completeAfter: 1.5, in: folder)
        defer { double.stop() }
        let waiting = try kubectl(args, port: port)
        defer { waiting.stop() }
        let finished = await eventually(timeout: .seconds(20)) { !waiting.isRunning }
        guard finished else {
            Issue.record("kubectl wait did not return once the Job completed: \(waiting.output)")
            return
        }
        #expect(waiting.wait() == 0, "\(waiting.output)")
        #expect(waiting.output.contains("job.batch/migrate condition met"), "\(waiting.output)")
        #expect(double.output.contains("watch=true"), "kubectl returned before the Job completed:\n\(double.output)")
    }

    @Test func theInitContainerKeepsWaitingWhileTheJobRuns() async throws {
        let args = try generatedWaitArgs()
        let folder = try TempProject()
        let (double, port) = try await startDouble(job: "migrate", completeAfter: 3600, in: folder)
        defer { double.stop() }
        let waiting = try kubectl(args, port: port)
        defer { waiting.stop() }
        // Once kubectl watches, it has seen the Job incomplete; it must still be waiting a second later.
        let watching = await eventually(timeout: .seconds(20)) { double.output.contains("watch=true") }
        #expect(watching, "kubectl never watched the Job:\n\(double.output)\n\(waiting.output)")
        let returned = await eventually(timeout: .seconds(1)) { !waiting.isRunning }
        #expect(!returned, "kubectl wait returned while the Job was still running: \(waiting.output)")
    }
}
