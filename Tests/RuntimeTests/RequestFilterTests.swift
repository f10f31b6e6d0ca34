import DevhostRuntime
import NIOCore
import Testing

@testable import DevhostProxy

/// `RequestFilter`, the list's filters, in a table over recorded exchanges made from raw heads.
@Suite struct RequestFilterTests {
    static let inspector = Inspector(loops: 1)

    static func recorded(_ id: Int, _ head: String, service: String, status: Int, response: String = "") -> InspectedRequest {
        let started = NIODeadline.now()
        let snapshot = InspectedSnapshot(
            id: id, started: started, host: "api.localhost", label: service, requestID: RequestID(generated: UInt64(id)), secure: false,
            requestHead: ByteBuffer(string: head), requestChunked: false, requestBody: nil, requestBodySize: 0,
            responseHead: ByteBuffer(string: "HTTP/1.1 \(status) X\r\nContent-Length: \(response.utf8.count)\r\n\r\n"),
            responseLocal: false,
            responseChunked: false, responseBody: ByteBuffer(string: response), responseBodySize: response.utf8.count, sent: started,
            firstByte: started, ended: started, status: status, instance: nil, phase: .complete)
        return InspectedRequest(snapshot, inspector: inspector)
    }

    static let requests = [
        recorded(1, "GET /api/items HTTP/1.1\r\nHost: api.localhost\r\nAuthorization: Bearer tok3n\r\n\r\n", service: "api", status: 200),
        recorded(2, "POST /api/orders HTTP/1.1\r\nHost: api.localhost\r\nX-Note: Urgent\r\n\r\n", service: "api", status: 503),
        recorded(3, "GET /apix HTTP/1.1\r\nHost: web.localhost\r\n\r\n", service: "web", status: 404, response: "not found here"),
        recorded(4, "GET / HTTP/1.1\r\nHost: web.localhost\r\n\r\n", service: "web", status: 0),
    ]

    @Test(arguments: [
        (RequestFilter(), [1, 2, 3, 4]),
        (RequestFilter(services: ["web"]), [3, 4]),
        (RequestFilter(services: ["api", "web"]), [1, 2, 3, 4]),
        (RequestFilter(status: "5xx"), [2]),
        (RequestFilter(status: "4XX"), [3]),
        (RequestFilter(status: "2xx"), [1]),
        (RequestFilter(status: "404"), [3]),
        (RequestFilter(status: "0"), [4]),
        (RequestFilter(path: "/api"), [1, 2, 3]),
        (RequestFilter(path: "/api/"), [1, 2]),
        (RequestFilter(text: "urgent"), [2]),
        (RequestFilter(text: "HERE"), [3]),
        (RequestFilter(text: "tok3n"), []),
        (RequestFilter(services: ["api"], status: "2xx", path: "/api"), [1]),
    ])
    func filters(_ filter: RequestFilter, _ expected: [Int]) {
        #expect(Self.requests.filter(filter.matches).map(\.id) == expected)
    }

    @Test(arguments: [
        ("5xx", true), ("2XX", true), ("404", true), ("0", true), ("6xx", false), ("50", false), ("abc", false), ("600", false),
    ])
    func statusFilters(_ text: String, _ valid: Bool) {
        #expect((RequestFilter.problem(status: text) == nil) == valid)
    }
}
