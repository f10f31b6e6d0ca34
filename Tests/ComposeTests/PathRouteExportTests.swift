import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// Path routes in the exports: Ingress paths where Kubernetes can say them (checked by kustomize and
/// the schemas), and comments where a target cannot (compose has no routing; Ingress cannot strip).
@Suite struct PathRouteExportTests {
    static let manifest = """
        name: shop
        services:
          web: { command: ./web, route: "@" }
          api: { command: ./api, route: [{ host: "@", path: /api, strip_prefix: true }] }
          v2: { command: ./v2, route: [{ host: "@", path: /api/v2 }, docs] }
        """

    @Test func theIngressCarriesEachPathUnderItsHost() throws {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let manifest = try project.load()
        let output = try KubeFolder(export: try KubeExport(manifest: manifest)).render()
        let ingressFile = try #require(output.files.first { $0.name == "ingress.yaml" })
        let objects = try kubeObjects(output.files.map(\.content))
        let ingress = try #require(objects["Ingress/shop"])
        let expected = try #require(
            try kubeDocuments(
                """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: shop
                  labels: { app.kubernetes.io/managed-by: devhost, app.kubernetes.io/name: shop, app.kubernetes.io/part-of: shop }
                spec:
                  rules:
                    - host: shop.localhost
                      http:
                        paths:
                          - { path: /api/v2, pathType: Prefix, backend: { service: { name: v2, port: { number: 8000 } } } }
                          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { number: 8000 } } } }
                          - { path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 8000 } } } }
                    - host: docs.shop.localhost
                      http:
                        paths:
                          - { path: /, pathType: Prefix, backend: { service: { name: v2, port: { number: 8000 } } } }
                """
            ).first)
        #expect(try canonicalObject(ingress) == canonicalObject(expected), "\(ingressFile.content)")
        // The strip a generic Ingress cannot express is said where the reader looks.
        #expect(ingressFile.content.contains("# shop.localhost/api → api strips /api in devhost (strip_prefix): a generic Ingress cannot"))
        #expect(ingressFile.content.contains("nginx.ingress.kubernetes.io/rewrite-target"))
        try writeBuildAndValidate(manifest, label: "path routes")
    }

    @Test func composeSaysItCannotRouteByPath() throws {
        let project = try project(Self.manifest)
        let file = ComposeFile(manifest: try project.load())
        let rendered = try file.render()
        #expect(
            rendered.contains(
                "  # route /api under the project's host (prefix stripped) is not carried over: compose has no routing;"),
            "\(rendered)")
        #expect(rendered.contains("  # route /api/v2 under the project's host is not carried over"))
        #expect(!rendered.contains("  # route /api under the project's host is not carried over"))
        try file.write(to: file.defaultPath, force: false)
        try validateWithComposeTools(file.defaultPath)
    }
}
