import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DevhostProxy

/// The access log's lines, byte for byte, and what happens when its writer falls behind.
@Suite struct AccessLogTests {
    private func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("devhost-access-\(UUID().uuidString.prefix(8))-\(name)").path
    }

    private func record(
        _ batch: AccessBatch, host: String = "api.localhost", target: String = "/items?token=secret", instance: String? = "api.1"
    ) {
        batch.record(
            method: ByteBuffer(string: "GET"), host: host, target: ByteBuffer(string: target), status: 200, bytes: 31, nanoseconds: 449_999,
            requestID: RequestID(sent: nil, generated: 0xff), instance: instance)
    }

    @Test func humanLinesKeepTheirLayoutWithoutTheQuery() throws {
        let path = tempPath("human.log")
        defer { unlink(path) }
        let log = try AccessLog(format: .human, path: path)
        let loop = EmbeddedEventLoop()
        let batch = AccessBatch(loop: loop, log: log)
        record(batch)
        record(batch, host: "evil\u{1b}]0;title\u{07}", target: "/x\u{1b}[2J", instance: nil)
        loop.run()
        log.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text
                == "GET api.localhost/items 200 31B 0.4ms 00000000000000ff → api.1\nGET evil\\x1b]0;title\\x07/x\\x1b[2J 200 31B 0.4ms 00000000000000ff\n"
        )
    }

    @Test func jsonLinesAreObjects() throws {
        let path = tempPath("json.log")
        defer { unlink(path) }
        let log = try AccessLog(format: .json, path: path)
        let loop = EmbeddedEventLoop()
        let batch = AccessBatch(loop: loop, log: log)
        record(batch, host: "a\"b")
        loop.run()
        log.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text
                == "{\"method\":\"GET\",\"host\":\"a\\\"b\",\"path\":\"/items\",\"request_id\":\"00000000000000ff\",\"instance\":\"api.1\",\"status\":200,\"bytes\":31,\"duration_ms\":0.450}\n"
        )
    }

    /// A relayed gRPC call's line ends with its grpc-status; HTTP/1.1 lines are unchanged (above).
    @Test func relayedCallsNoteTheirGRPCStatus() throws {
        for (format, expected) in [
            (
                ProxyContext.AccessLogFormat.human,
                "POST echo.localhost/pkg.Svc/Call 200 12B 0.4ms 00000000000000ff → echo-1 grpc-status=14\n"
            ),
            (
                .json,
                "{\"method\":\"POST\",\"host\":\"echo.localhost\",\"path\":\"/pkg.Svc/Call\",\"request_id\":\"00000000000000ff\",\"instance\":\"echo-1\",\"status\":200,\"bytes\":12,\"duration_ms\":0.450,\"grpc_status\":14}\n"
            ),
        ] {
            let path = tempPath("grpc.log")
            defer { unlink(path) }
            let log = try AccessLog(format: format, path: path)
            let loop = EmbeddedEventLoop()
            let batch = AccessBatch(loop: loop, log: log)
            batch.record(
                method: ByteBuffer(string: "POST"), host: "echo.localhost", target: ByteBuffer(string: "/pkg.Svc/Call"), status: 200,
                bytes: 12, nanoseconds: 449_999, requestID: RequestID(sent: nil, generated: 0xff), instance: "echo-1", grpcStatus: 14)
            loop.run()
            log.close()
            #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
        }
    }

    @Test func numbersAreWrittenAsDigits() {
        for (value, text) in [(0, "0"), (7, "7"), (200, "200"), (1_234_567_890, "1234567890"), (-3, "-3")] {
            var buffer = ByteBuffer()
            AccessBatch.writeInteger(value, into: &buffer)
            #expect(String(buffer: buffer) == text)
        }
        for (nanoseconds, places, text) in [
            (Int64(0), 1, "0.0"), (49_999, 1, "0.0"), (50_000, 1, "0.1"), (12_345_678, 1, "12.3"), (1_005, 3, "0.001"),
            (12_345_678, 3, "12.346"),
        ] {
            var buffer = ByteBuffer()
            AccessBatch.writeDecimal(nanoseconds, places: places, into: &buffer)
            #expect(String(buffer: buffer) == text, "\(nanoseconds) \(places)")
        }
    }

    /// A reader that stops reading (a terminal scrolled back, a full disk): the writer blocks, the
    /// event loop does not, memory stays under the limit and the dropped lines are counted.
    @Test func aStalledReaderCostsDroppedLinesNotMemory() throws {
        let path = tempPath("fifo")
        defer { unlink(path) }
        #expect(mkfifo(path, 0o600) == 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let log = try AccessLog(format: .human, path: path, limit: 256 * 1024)
        let loop = EmbeddedEventLoop()
        let batch = AccessBatch(loop: loop, log: log)
        // About 3 MB of lines against a 64 KiB pipe and a 256 KiB queue.
        for _ in 0..<40 {
            for _ in 0..<1000 { record(batch) }
            loop.run()
        }
        #expect(log.droppedLines > 20_000, "\(log.droppedLines)")
        // Reading again lets the writer finish; it says once that lines were dropped.
        var text = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !String(decoding: text, as: UTF8.self).contains("dropping lines") {
            let count = read(reader, &chunk, chunk.count)
            if count > 0 { text.append(contentsOf: chunk[0..<count]) } else { usleep(1000) }
        }
        #expect(
            String(decoding: text, as: UTF8.self).contains("access log: the terminal or disk is slower than the traffic; dropping lines"))
        // Drain the rest so close() can finish.
        let drain = Thread {
            var rest = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(reader, &rest, rest.count)
                if count == 0 || (count < 0 && errno != EAGAIN) { return }
                if count < 0 { usleep(1000) }
            }
        }
        drain.start()
        log.close()
    }
}
