import ArgumentParser
import DevhostCompose
import Foundation

struct KubeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube",
        abstract: "Write Kubernetes manifests (a kustomize folder) from devhost.yml.",
        discussion: """
            Writes deploy/kube/ beside the manifest: per service a Deployment (or a Job for what others wait \
            on with condition: completed), a Service and a ConfigMap; an Ingress for the routes; and \
            kustomization.yaml with the images and a Secret generator per env file (pointing at the file, \
            never at its values). Apply it with `kubectl apply -k deploy/kube` (with env files: \
            `kubectl kustomize --load-restrictor LoadRestrictionsNone deploy/kube | kubectl apply -f -`). \
            Every file carries a header with a checksum: devhost refuses to overwrite files it did not \
            generate, or ones edited by hand since, unless --force. See docs/kube.md.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .shortAndLong, help: "Write into this folder instead of deploy/kube beside the manifest.")
    var output: String?

    @Flag(help: "Print every file to standard output; write nothing.")
    var stdout = false

    @Flag(help: "Exit 1 with a diff when the folder is out of date or edited by hand (for CI); write nothing.")
    var check = false

    @Flag(help: "Overwrite files devhost did not generate, or ones edited by hand.")
    var force = false

    @Option(help: ArgumentHelp("Namespace written into kustomization.yaml.", valueName: "name"))
    var namespace: String?

    @Option(
        help: ArgumentHelp(
            "Registry and team built images are pushed to (image REGISTRY/TEAM/PROJECT-SERVICE).", valueName: "registry/team"))
    var imagePrefix: String?

    @Option(help: ArgumentHelp("The Ingress's ingressClassName (default: the cluster's default class).", valueName: "class"))
    var ingressClass: String?

    @Option(help: ArgumentHelp("Route hosts are ROUTE.DOMAIN, and DOMAIN for \"@\" (default: PROJECT.localhost).", valueName: "domain"))
    var domain: String?

    var kubeOptions: KubeOptions {
        KubeOptions(namespace: namespace, imagePrefix: imagePrefix, ingressClass: ingressClass, domain: domain)
    }

    func validate() throws {
        if stdout && check { throw ValidationError("--stdout and --check cannot be combined") }
        if force && (stdout || check) { throw ValidationError("--force only applies when writing; drop --stdout or --check") }
        do {
            _ = try kubeOptions.validated()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let manifest = try manifestOptions.load()
        do {
            let export = try KubeExport(manifest: manifest, options: kubeOptions)
            let folder = KubeFolder(export: export, path: output)
            if stdout {
                Console.standardOutput.write(try folder.stream())
            } else if check {
                try folder.check()
                Console.standardOutput.line("\(folder.path) is up to date")
            } else {
                let written = try folder.write(force: force)
                for warning in written.warnings { Console.standardError.warning(warning) }
                Console.standardOutput.line("wrote \(folder.path) (\(counted(written.files.count, "file")))")
            }
        } catch let problem as KubeFolder.Problem {
            throw CommandFailure(message: problem.description)
        } catch let problem as KubeError {
            throw CommandFailure(message: problem.description)
        }
    }
}
