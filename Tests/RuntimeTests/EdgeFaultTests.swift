import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

extension EdgeTests {
    /// Two projects on one real edge (started by `devhost up -d`), each with an `api`: a fault
    /// installed with `devhost fault` in one applies at the edge to that project's routes only,
    /// carries its id, expires there by itself and clears.
    @Test func faultsApplyAtTheSharedEdgeToTheirProjectOnly() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let shop = try world.project("shop", name: "shop", who: "shop")
        let blog = try world.project("blog", name: "blog", who: "blog")
        for folder in [shop, blog] {
            let up = try world.devhost(["up", "-d"], in: folder)
            #expect(up.status == 0, "\(up.output)")
        }
        /// Status and X-Devhost-Fault of a GET through the edge.
        func fault(_ host: String) throws -> (Int, String?) {
            let result = try run(["curl", "-s", "-i", "--max-time", "5", "-H", "Host: \(host)", "http://127.0.0.1:\(world.port)/x"])
            let lines = result.output.split(separator: "\r\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            let id = lines.first { $0.lowercased().hasPrefix("x-devhost-fault: ") }.map { String($0.dropFirst(17)) }
            return (status, id)
        }
        #expect(try fault("api.shop.localhost") == (200, nil))

        let added = try world.devhost(["fault", "api", "--error", "502"], in: shop)
        #expect(added.status == 0, "\(added.output)")
        #expect(await eventually(timeout: .seconds(5)) { (try? fault("api.shop.localhost"))?.0 == 502 })
        #expect(try fault("api.shop.localhost") == (502, "f1"))
        #expect(try fault("api.blog.localhost") == (200, nil))

        // A short fault ends at the edge too, with no word from the project needed at that moment.
        let cleared = try world.devhost(["fault", "clear"], in: shop)
        #expect(cleared.output.contains("cleared f1"), "\(cleared.output)")
        #expect(await eventually(timeout: .seconds(5)) { (try? fault("api.shop.localhost"))?.0 == 200 })
        let short = try world.devhost(["fault", "api", "--error", "503", "--for", "1s"], in: shop)
        #expect(short.status == 0, "\(short.output)")
        #expect(await eventually(timeout: .seconds(5)) { (try? fault("api.shop.localhost"))?.0 == 503 })
        #expect(await eventually(timeout: .seconds(5)) { (try? fault("api.shop.localhost"))?.0 == 200 })
        #expect(try fault("api.blog.localhost") == (200, nil))
    }
}
