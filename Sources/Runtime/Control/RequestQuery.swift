import DevhostManifest

/// One question to the request inspector, as the control API's `/v1/requests` endpoints ask it:
/// answered in place from a project's own proxy (`InspectorDesk`), or carried to the shared edge in
/// a `requests` message and answered there for that project only.
public struct RequestQuery: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case list, detail, replay, masking
    }

    public var op: Operation
    /// detail, replay: the exchange's id.
    public var id: Int?
    // list: the filters (`RequestFilter`), `since` (ids above it) and `limit` (the newest so many).
    public var services: [String]?
    public var status: String?
    public var path: String?
    public var text: String?
    public var since: Int?
    public var limit: Int?
    /// list, for a follower (`devhost requests -f`): each exchange as its own summary line, and
    /// those still in flight whatever the filter, so the follower waits for them to end.
    public var follow: Bool?
    /// masking: secrets masked from now on (true) or shown (false).
    public var masked: Bool?
    /// replay: the edits as the control API received them (JSON text); nil: as recorded.
    public var edits: String?

    public init(_ op: Operation) {
        self.op = op
    }
}

/// The inspector's answer: an HTTP status and the JSON body the control API returns as it is.
public struct RequestAnswer: Codable, Sendable, Equatable {
    /// One exchange of a follower's list.
    public struct Line: Codable, Sendable, Equatable {
        public var id: Int
        public var inFlight: Bool
        /// Its summary (JSON text).
        public var summary: String
    }

    public var status: Int
    public var body: String
    /// A follower's list: the exchanges, and the newest id looked at.
    public var lines: [Line]?
    public var lastID: Int?
    /// The inspector's `idEpoch`, for a follower (nil from an edge older than it).
    public var epoch: String?

    public init(status: Int, body: String, lines: [Line]? = nil, lastID: Int? = nil, epoch: String? = nil) {
        self.status = status
        self.body = body
        self.lines = lines
        self.lastID = lastID
        self.epoch = epoch
    }

    static func json(_ status: Int, _ fields: [(String, JSONValue)]) -> RequestAnswer {
        RequestAnswer(status: status, body: JSONValue.object(fields).serialized())
    }

    static func error(_ status: Int, _ message: String) -> RequestAnswer {
        json(status, [("error", .string(message))])
    }
}

/// Where the request endpoints' answers come from: the project's own inspector, or the shared
/// edge's (`EdgeLink`).
protocol RequestSource: Sendable {
    func answer(_ query: RequestQuery) async -> RequestAnswer
}
