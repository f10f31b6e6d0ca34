import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// Manifests in, Kubernetes objects out, compared as parsed YAML; every case's folder is also built
/// with kustomize and validated against the schemas.
@Suite struct KubeExportTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var manifest: String
        var files: [String: String] = [:]
        var options = KubeOptions()
        /// `Kind/name` → the object as YAML.
        var expected: [String: String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "http check with a start period, env as ConfigMap and $(VAR), references to Service names",
            manifest: """
                name: shop
                env: { LOG_LEVEL: "${LOG_LEVEL:-info}", REGION: "${REGION}" }
                services:
                  api:
                    command: uvicorn app.main:app --host $HOST --port $PORT
                    cwd: api
                    replicas: 2
                    env:
                      DATABASE_URL: "postgres://${db.host}:${db.port}/shop"
                      CALLBACK: "${api.public_url}/auth"
                      PRICE: "5$$"
                    health: { http: /healthz, interval: 2s, timeout: 500ms, retries: 4, start_period: 15s }
                    depends_on: { db: { condition: healthy } }
                  db:
                    command: [postgres, -p, "${PORT}"]
                    port: 5432
                    route: false
                    image: postgres:16-alpine
                    health: { exec: "pg_isready -p $$PORT", start_period: 0s }
                """,
            files: ["api/Dockerfile": "FROM python:3.12-slim\n"],
            options: KubeOptions(imagePrefix: "ghcr.io/acme/"),
            expected: [
                "ConfigMap/api-env": """
                apiVersion: v1
                kind: ConfigMap
                metadata: { name: api-env, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: api-env, app.kubernetes.io/part-of: shop } }
                data:
                  CALLBACK: http://api.shop.localhost/auth
                  DATABASE_URL: postgres://db:5432/shop
                  LOG_LEVEL: info
                  PRICE: 5$
                """,
                "Deployment/api": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: { name: api, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: api, app.kubernetes.io/part-of: shop } }
                spec:
                  replicas: 2
                  selector: { matchLabels: { app.kubernetes.io/name: api, app.kubernetes.io/part-of: shop } }
                  template:
                    metadata: { labels: { app.kubernetes.io/name: api, app.kubernetes.io/part-of: shop } }
                    spec:
                      initContainers:
                        - name: wait-for-db
                          image: "busybox:1.36"
                          command: [sh, -c, "until nc -z -w 2 db 5432; do echo waiting for db:5432; sleep 2; done"]
                      containers:
                        - name: api
                          image: ghcr.io/acme/shop-api
                          imagePullPolicy: IfNotPresent
                          args: [/bin/sh, -c, "uvicorn app.main:app --host $$HOST --port $$PORT"]
                          ports: [{ name: http, containerPort: 8000 }]
                          env:
                            - { name: PORT, value: "8000" }
                            - { name: HOST, value: 0.0.0.0 }
                            - { name: DEVHOST_PROJECT, value: shop }
                            - { name: DEVHOST_SERVICE, value: api }
                            - { name: REGION, value: $(REGION) }
                          envFrom: [{ configMapRef: { name: api-env } }]
                          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 4 }
                          startupProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 12 }
                      terminationGracePeriodSeconds: 10
                """,
                "Service/db": """
                apiVersion: v1
                kind: Service
                metadata: { name: db, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: db, app.kubernetes.io/part-of: shop } }
                spec:
                  selector: { app.kubernetes.io/name: db, app.kubernetes.io/part-of: shop }
                  ports: [{ name: tcp, port: 5432, targetPort: tcp }]
                """,
                "Deployment/db": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: { name: db, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: db, app.kubernetes.io/part-of: shop } }
                spec:
                  replicas: 1
                  selector: { matchLabels: { app.kubernetes.io/name: db, app.kubernetes.io/part-of: shop } }
                  template:
                    metadata: { labels: { app.kubernetes.io/name: db, app.kubernetes.io/part-of: shop } }
                    spec:
                      containers:
                        - name: db
                          image: postgres:16-alpine
                          args: [postgres, -p, "5432"]
                          ports: [{ name: tcp, containerPort: 5432 }]
                          env:
                            - { name: PORT, value: "5432" }
                            - { name: HOST, value: 0.0.0.0 }
                            - { name: DEVHOST_PROJECT, value: shop }
                            - { name: DEVHOST_SERVICE, value: db }
                            - { name: REGION, value: $(REGION) }
                          envFrom: [{ configMapRef: { name: db-env } }]
                          readinessProbe: { exec: { command: [/bin/sh, -c, "pg_isready -p $$PORT"] }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 }
                      terminationGracePeriodSeconds: 10
                """,
                "Ingress/shop": """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: { name: shop, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: shop, app.kubernetes.io/part-of: shop } }
                spec:
                  rules:
                    - host: api.shop.localhost
                      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: api, port: { number: 8000 } } } }] }
                """,
                "Kustomization/Kustomization": """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [api.yaml, db.yaml, ingress.yaml]
                images:
                  - { name: busybox, newTag: "1.36" }
                  - { name: ghcr.io/acme/shop-api, newTag: latest }
                  - { name: postgres, newTag: 16-alpine }
                """,
            ]),
        Case(
            name: "a completed dependency becomes a Job that dependants wait for with kubectl; tcp check; routes with a domain and class",
            manifest: """
                name: shop
                services:
                  migrate: { command: ./migrate, port: none, restart: "no", image: "alpine:3.20" }
                  web:
                    command: node server.js
                    image: node:20-alpine
                    route: ["@", www]
                    stop_timeout: 30s
                    health: { tcp: true, start_period: 0s }
                    depends_on: { migrate: { condition: completed } }
                """,
            options: KubeOptions(namespace: "shop-staging", ingressClass: "nginx", domain: "Staging.Example.com"),
            expected: [
                "Job/migrate": """
                apiVersion: batch/v1
                kind: Job
                metadata: { name: migrate, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: migrate, app.kubernetes.io/part-of: shop } }
                spec:
                  backoffLimit: 0
                  template:
                    metadata: { labels: { app.kubernetes.io/name: migrate, app.kubernetes.io/part-of: shop } }
                    spec:
                      containers:
                        - name: migrate
                          image: "alpine:3.20"
                          args: [/bin/sh, -c, ./migrate]
                          env: [{ name: DEVHOST_PROJECT, value: shop }, { name: DEVHOST_SERVICE, value: migrate }]
                      restartPolicy: Never
                      terminationGracePeriodSeconds: 10
                """,
                "Deployment/web": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: { name: web, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: web, app.kubernetes.io/part-of: shop } }
                spec:
                  replicas: 1
                  selector: { matchLabels: { app.kubernetes.io/name: web, app.kubernetes.io/part-of: shop } }
                  template:
                    metadata: { labels: { app.kubernetes.io/name: web, app.kubernetes.io/part-of: shop } }
                    spec:
                      serviceAccountName: wait-for-jobs
                      initContainers:
                        - name: wait-for-migrate
                          image: "registry.k8s.io/kubectl:v1.32.4"
                          args: [wait, --for=condition=complete, --timeout=24h, job/migrate]
                      containers:
                        - name: web
                          image: node:20-alpine
                          args: [/bin/sh, -c, node server.js]
                          ports: [{ name: http, containerPort: 8000 }]
                          env:
                            - { name: PORT, value: "8000" }
                            - { name: HOST, value: 0.0.0.0 }
                            - { name: DEVHOST_PROJECT, value: shop }
                            - { name: DEVHOST_SERVICE, value: web }
                          readinessProbe: { tcpSocket: { port: http }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 }
                      terminationGracePeriodSeconds: 30
                """,
                "RoleBinding/wait-for-jobs": """
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: { name: wait-for-jobs, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: wait-for-jobs, app.kubernetes.io/part-of: shop } }
                roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: wait-for-jobs }
                subjects: [{ kind: ServiceAccount, name: wait-for-jobs, namespace: shop-staging }]
                """,
                "Role/wait-for-jobs": """
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: { name: wait-for-jobs, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: wait-for-jobs, app.kubernetes.io/part-of: shop } }
                rules: [{ apiGroups: [batch], resources: [jobs], verbs: [get, list, watch] }]
                """,
                "Ingress/shop": """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: { name: shop, labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: shop, app.kubernetes.io/part-of: shop } }
                spec:
                  ingressClassName: nginx
                  rules:
                    - host: staging.example.com
                      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 8000 } } } }] }
                    - host: www.staging.example.com
                      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 8000 } } } }] }
                """,
                "Kustomization/Kustomization": """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                namespace: shop-staging
                resources: [ingress.yaml, migrate.yaml, wait-for-jobs.yaml, web.yaml]
                images:
                  - { name: alpine, newTag: "3.20" }
                  - { name: node, newTag: 20-alpine }
                  - { name: registry.k8s.io/kubectl, newTag: v1.32.4 }
                """,
            ]),
        Case(
            name: "env files become Secret generators after the ConfigMap; a healthy dependency without a port waits for nothing",
            manifest: """
                name: shop
                env_file: .env
                services:
                  worker:
                    command: ./work
                    port: none
                    image: alpine
                    env_file: worker.env
                    env: { MODE: batch }
                    health: { exec: "test -f /tmp/ok", start_period: 0s }
                  report:
                    command: ./report
                    port: none
                    image: alpine
                    depends_on: { worker: { condition: healthy } }
                """,
            files: [".env": "TOKEN=project-secret-value\n", "worker.env": "WORKER_KEY=worker-secret-value\n"],
            expected: [
                "Kustomization/Kustomization": """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [report.yaml, worker.yaml]
                images: [{ name: alpine }]
                secretGenerator:
                  - { name: env-file, envs: [../../.env] }
                  - { name: worker-env-file, envs: [../../worker.env] }
                """
            ]),
    ]

    @Test(arguments: cases)
    func manifestBecomesTheExpectedObjects(_ c: Case) throws {
        var files = c.files
        files["devhost.yml"] = c.manifest
        let project = try TempProject(files)
        let manifest = try project.load()
        let folder = KubeFolder(export: try KubeExport(manifest: manifest, options: c.options))
        let output = try folder.render()
        let objects = try kubeObjects(output.files.map(\.content))
        for (key, yaml) in c.expected.sorted(by: { $0.key < $1.key }) {
            let actual = try #require(objects[key], "no \(key) among \(objects.keys.sorted())")
            let expected = try #require(try kubeDocuments(yaml).first)
            let dumped = (try? Yams.dump(object: actual)) ?? "\(actual)"
            #expect(try canonicalObject(actual) == canonicalObject(expected), "\(key):\n\(dumped)")
        }
        try writeBuildAndValidate(manifest, options: c.options, label: c.name)
    }

    @Test func envFileValuesNeverReachTheFolderNorTheOutput() throws {
        let secretCase = Self.cases[2]
        var files = secretCase.files
        files["devhost.yml"] = secretCase.manifest
        let project = try TempProject(files)
        let folder = KubeFolder(export: try KubeExport(manifest: try project.load()))
        let output = try folder.write(force: false)
        for file in output.files {
            #expect(!file.content.contains("secret-value"), "\(file.name) holds an env file's value")
        }
        #expect(try !folder.stream().contains("secret-value"))
        #expect(output.warnings.count == 2)
        #expect(output.warnings[0].hasPrefix(".env: its values reach the cluster as Secret env-file"), "\(output.warnings)")
        #expect(output.warnings[1].hasPrefix("worker.env: its values reach the cluster as Secret worker-env-file"))
        // kustomize, not devhost, reads the values: the built Secret has them, and the worker reads it after its ConfigMap.
        let built = try kubeObjects([try kustomize(folder.path)])
        let secret = try #require(built.first { $0.key.hasPrefix("Secret/worker-env-file-") }?.value)
        #expect((secret["data"] as? [String: String])?["WORKER_KEY"] == Data("worker-secret-value".utf8).base64EncodedString())
        let deployment = try #require(built["Deployment/worker"])
        let spec = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((spec["containers"] as? [[String: Any]])?.first)
        let sources = (container["envFrom"] as? [[String: Any]] ?? []).map { try? canonicalObject($0) }
        #expect(sources.count == 3)
        #expect(sources[0]?.contains("\"worker-env\"") == true, "the ConfigMap first, so env files override it: \(sources)")
        #expect(sources[2]?.contains("worker-env-file-") == true, "kustomize renames the generated Secret with its hash: \(sources)")
        let reportFile = try #require(output.files.first { $0.name == "report.yaml" })
        #expect(reportFile.content.contains("# depends_on worker (healthy): it has no port"))
    }

    @Test func aMissingEnvFileIsWarnedAbout() throws {
        let project = try TempProject(["devhost.yml": "env_file: .env\nservices:\n  api: { command: ./api, image: alpine }\n"])
        let output = try KubeFolder(export: try KubeExport(manifest: try project.load())).render()
        #expect(
            output.warnings == [
                ".env: its values reach the cluster as Secret env-file through kustomize's secretGenerator, which reads the file when the folder is built; no value is written here. Keep the file out of git; it does not exist yet, and kustomize needs it"
            ])
    }
}
