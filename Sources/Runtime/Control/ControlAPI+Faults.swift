import DevhostManifest
import DevhostProxy
import Foundation

/// `/v1/faults`: install (POST, the CLI's options as query parameters), list (GET) and clear
/// (DELETE, optionally `?service=` or `?id=`) the faults injected into this project's requests.
extension ControlAPI {
    struct FaultList: Encodable {
        var faults: [FaultStatus]
    }

    func faults(_ request: ControlRequest) async -> ControlResponse {
        let table = supervisor.routes.faults
        switch request.method {
        case "GET", "HEAD":
            return .json(200, StatusReport.encoded(FaultList(faults: FaultStatus.list(table))))
        case "POST":
            var values: [String: String] = [:]
            for (key, list) in request.query { values[key] = list.last }
            let input: FaultInput
            do {
                input = try FaultInput.parse(values)
            } catch {
                return .error(400, error.description)
            }
            let services = await supervisor.manifest.services.map(\.name)
            guard services.contains(input.service) else {
                return .error(404, "no service named \(input.service) (services: \(services.sorted().joined(separator: ", ")))")
            }
            if let refusal = table.unsupported { return .error(409, refusal) }
            let rule = table.install(input)
            log.event(
                "fault \(rule.id) on \(rule.service)\(rule.path ?? ""): \(FaultStatus.summary(rule)) for \(DurationText.format(.milliseconds(input.milliseconds)))"
            )
            return .json(201, StatusReport.encoded(FaultStatus(rule, now: FaultTable.now)))
        case "DELETE":
            let service = request.first("service").flatMap { $0.isEmpty ? nil : $0 }
            let id = request.first("id").flatMap { $0.isEmpty ? nil : $0 }
            let removed = table.clear(service: service, id: id)
            if !removed.isEmpty { log.event("fault cleared: \(removed.map(\.id).joined(separator: ", "))") }
            let now = FaultTable.now
            return .json(200, StatusReport.encoded(FaultList(faults: removed.map { FaultStatus($0, now: now) })))
        default:
            return .error(405, "\(request.method) is not allowed on \(request.path) (GET, POST or DELETE)")
        }
    }
}
