import Foundation
import Testing

@testable import DevhostRuntime

/// top's own JSON reader (`StatusJSON`) and the status it fills, held to JSONDecoder's reading.
@Suite("devhost top: the status answer without JSONDecoder")
struct StatusJSONTests {
    static func parse(_ text: String) throws -> StatusJSON.Value { try StatusJSON.parse(Array(text.utf8)) }

    /// The error's message for input that must be refused; fails the test when it is accepted.
    static func refusal(_ text: String) -> String {
        do {
            let value = try parse(text)
            Issue.record("accepted \(text.debugDescription) as \(value)")
            return ""
        } catch let error as StatusJSONError {
            return error.message
        } catch {
            Issue.record("\(error)")
            return ""
        }
    }

    @Test("values: objects, arrays, strings, numbers, true/false/null, whitespace around")
    func values() throws {
        let value = try Self.parse(" \n{\"a\": [1, -2.5e3, 0, true, false, null], \"b\": {}, \"c\": [], \"d\": \"x\"}\t\r\n")
        #expect(
            value
                == .object([
                    "a": .array([.number("1"), .number("-2.5e3"), .number("0"), .bool(true), .bool(false), .null]),
                    "b": .object([:]), "c": .array([]), "d": .string("x"),
                ]))
        #expect(try Self.parse("\"only\"") == .string("only"))
        #expect(try Self.parse("{\"k\": 1, \"k\": 2}") == .object(["k": .number("2")]))
    }

    @Test("string escapes: the short ones, \\uXXXX, surrogate pairs, raw UTF-8")
    func escapes() throws {
        #expect(try Self.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{c}\n\r\t"))
        #expect(try Self.parse(#""\u0041\u00e9\u00E9\u20ac\u0000""#) == .string("Aéé€\u{0}"))
        #expect(try Self.parse(#""\ud83d\ude00 \uD834\uDD1E""#) == .string("😀 𝄞"))
        #expect(try Self.parse("\"naïve 日本 😀\"") == .string("naïve 日本 😀"))
        // What JSONSerialization reads from the same text, for the escapes above.
        let text = #"["\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac", "\ud83d\ude00 \uD834\uDD1E", "naïve 日本"]"#
        let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        #expect(try Self.parse(text) == .array((foundation ?? []).map { .string($0) }))
    }

    @Test("malformed input is refused with the byte where it went wrong")
    func malformed() {
        let cases: [(String, String)] = [
            ("", "at byte 0: expected a value, found end of input"),
            ("{\"a\": 1,}", "at byte 8: expected a key, found '}'"),
            ("[1,]", "at byte 3: expected a value, found ']'"),
            ("[1 2]", "at byte 3: expected ',' or ']', found '2'"),
            ("{\"a\" 1}", "at byte 5: expected ':', found '1'"),
            ("{'a': 1}", "at byte 1: expected a key, found '''"),
            ("{\"a\": 1} x", "at byte 9: unexpected 'x' after the value"),
            ("01", "leading zero"), ("-", "expected a digit"), ("1.", "after '.'"), ("1e", "exponent"), ("+1", "expected a value"),
            (".5", "expected a value"), ("NaN", "expected a value"), ("tru", "expected true"), ("nul", "expected null"),
            ("\"a\u{1}b\"", "control character"), ("\"a\nb\"", "control character"), (#""\x""#, "unknown escape"),
            (#""\u12""#, "hex digit"), (#""\u12G4""#, "hex digit"), (#""\ud83d""#, "without its low surrogate"),
            (#""\ud83d\u0041""#, "not a low surrogate"), (#""\ude00""#, "lone low surrogate"), ("// c\n1", "expected a value"),
        ]
        for (text, expected) in cases {
            let message = Self.refusal(text)
            #expect(message.contains(expected), "\(text.debugDescription): \(message)")
        }
        // Bytes that are not UTF-8 inside a string.
        #expect(throws: StatusJSONError.self) { try StatusJSON.parse([0x22, 0xff, 0xfe, 0x22]) }
        #expect(throws: StatusJSONError.self) { try StatusJSON.parse([0x22, 0xe2, 0x82, 0x22]) }
    }

    @Test("truncated input is refused at every cut of a real status answer")
    func truncated() throws {
        let bytes = Array(TopScreenTests.report.json().utf8)
        #expect(try StatusReport.read(bytes) == StatusReport.decode(Data(bytes)))
        for cut in 0..<bytes.count {
            #expect(throws: StatusJSONError.self, "cut at \(cut)") { try StatusJSON.parse(Array(bytes[..<cut])) }
        }
    }

    @Test("nesting and size are bounded")
    func limits() throws {
        let deepest = String(repeating: "[", count: StatusJSON.maxDepth) + String(repeating: "]", count: StatusJSON.maxDepth)
        #expect(throws: Never.self) { try Self.parse(deepest) }
        #expect(Self.refusal("[" + deepest + "]").contains("nested deeper than \(StatusJSON.maxDepth)"))
        // A hostile depth fails as an error, not by running out of stack.
        #expect(Self.refusal(String(repeating: "{\"a\":", count: 100_000)).contains("nested deeper"))
        let huge = [UInt8](repeating: 0x20, count: StatusJSON.maxBytes + 1)
        #expect(throws: StatusJSONError(message: "\(huge.count) bytes, more than the \(StatusJSON.maxBytes) read")) {
            try StatusJSON.parse(huge)
        }
    }

    @Test("the status is read as StatusReport.decode reads it: optionals, unknown keys, escapes, numbers")
    func statusLikeJSONDecoder() throws {
        var report = TopScreenTests.report
        report.project = "sh\"op ☕ \\ 😀"
        report.directory = "/tmp/a b/ü"
        report.proxy = nil
        report.services[0].instances[0].uptimeSeconds = 0.125
        report.services[0].instances[0].pid = Int32.max
        let data = Data(report.json().utf8)
        #expect(try StatusReport.read([UInt8](data)) == report)
        #expect(try StatusReport.read([UInt8](data)) == StatusReport.decode(data))

        // Hand-written answers both readers take: extra keys, nulls for optionals, escapes, 1e2 for an integer.
        let written = #"""
            {"project": "p\u00e9", "directory": "\/d", "pid": 1e2, "started_at": "2025-12-06T15:01:58Z", "ready": true,
             "ok": false, "proxy": null, "extra": {"x": [1, {"y": null}]},
             "services": [{"name": "api", "routes": ["http:\/\/a"], "port": null, "instances": [
               {"label": "api.1", "index": 1, "pid": null, "state": "running", "health": "-", "ok": true, "failed": false,
                "restarts": 0, "uptime_seconds": 1.5e1, "new_field": "ignored"}]}]}
            """#
        let mine = try StatusReport.read(Array(written.utf8))
        #expect(mine == (try StatusReport.decode(Data(written.utf8))))
        #expect(mine.project == "pé" && mine.pid == 100 && mine.services[0].routes == ["http://a"])
        #expect(mine.services[0].instances[0].uptimeSeconds == 15 && mine.services[0].instances[0].pid == nil)
    }

    @Test("a status with a missing key or a wrong type is refused, naming the key, as JSONDecoder refuses it")
    func statusRefusals() throws {
        let good = TopScreenTests.report.json()
        let cases: [(String, String, String)] = [
            ("\"project\":\"shop\",", "", "project: missing"),
            ("\"pid\":100", "\"pid\":\"100\"", "pid: expected an integer that fits Int32"),
            ("\"pid\":100", "\"pid\":4294967296", "pid: expected an integer that fits Int32"),
            ("\"pid\":100", "\"pid\":1.5", "pid: expected an integer that fits Int32"),
            ("\"ready\":true", "\"ready\":1", "ready: expected true or false"),
            ("\"ready\":true", "\"ready\":null", "ready: missing"),
            ("\"started_at\":\"1970-01-01T00:00:00Z\"", "\"started_at\":\"soon\"", "started_at: not an ISO 8601 UTC time: soon"),
            ("\"label\":\"api.1\"", "\"label\":[]", "services[0].instances[0].label: expected a string"),
            ("\"routes\":[\"http", "\"routes\":[1,\"http", "services[0].routes[0]: expected a string"),
        ]
        for (from, to, expected) in cases {
            #expect(good.contains(from), "the fixture lacks \(from)")
            let data = Data(good.replacingOccurrences(of: from, with: to).utf8)
            #expect(throws: StatusJSONError(message: expected), "\(to)") { try StatusReport.read([UInt8](data)) }
            #expect(throws: DecodingError.self, "\(to)") { try StatusReport.decode(data) }
        }
        #expect(throws: StatusJSONError(message: "the answer: expected an object")) { try StatusReport.read(Array("[]".utf8)) }
    }

    @Test("a real devhost's status answer, read from its control socket, as StatusReport.decode reads it")
    func realAnswer() async throws {
        let dev = try DevhostRun(twoReplicasAndAWorker(project: "json"))
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let response = try dev.client.get("/v1/status")
        #expect(response.status == 200)
        let mine = try TopApp.decodeStatus(response.body)
        #expect(mine == (try StatusReport.decode(response.body)))
        #expect(mine.project == "json" && mine.services.map(\.name) == ["api", "worker"])
        #expect(mine.services[0].instances.count == 2 && mine.services[0].instances.allSatisfy { $0.pid != nil })
        #expect(mine.services[0].routes.allSatisfy { $0.hasPrefix("http://") })
    }
}
