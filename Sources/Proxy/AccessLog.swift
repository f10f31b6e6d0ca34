import DevhostManifest
import Foundation
import NIOCore

/// Where access-log lines meet devhost's other output on the terminal (`LogOutput` in Runtime):
/// the same prefix, written between whole lines.
public protocol LogTerminal: AnyObject, Sendable {
    /// What goes before a line of `label` now (its width follows the longest label).
    func linePrefix(label: String, color: String) -> [UInt8]
    /// Whole lines formatted elsewhere, written in one piece.
    func writeRaw(_ bytes: UnsafeRawBufferPointer)
    /// One of devhost's own lines.
    func event(_ text: String, service: String?, label: String)
}

/// The access log, at about nginx's cost. A line is formatted straight into bytes on the event
/// loop (no strings, no `String(format:)`), lines gather in a per-loop batch that is handed over
/// once per event-loop tick, and one thread writes the batches. When the terminal or the disk is
/// slower than the traffic, at most `limit` bytes wait: later lines are dropped and counted (and
/// said so once) rather than blocking an event loop or growing without bound.
public final class AccessLog: @unchecked Sendable {
    public enum Destination: Sendable {
        /// The terminal, through `LogOutput` (its `proxy |` prefix, colour and timestamps).
        case output(any LogTerminal)
        /// A file of its own (`--access-log FILE`): the lines alone, appended.
        case file(String)
    }

    let format: ProxyContext.AccessLogFormat
    private let destination: Destination
    private let descriptor: Int32
    private let limit: Int
    /// Guards `queue`, `queued`, `dropped`, `announced` and `stopping`; the writer thread waits on it.
    private let condition = NSCondition()
    private var queue: [ByteBuffer] = []
    private var queued = 0
    private var dropped = 0
    private var announced = false
    private var stopping = false
    private var writer: Thread?

    /// Lines go to `destination`; at most `limit` bytes wait for the writer.
    public convenience init(format: ProxyContext.AccessLogFormat, destination: Destination, limit: Int = 4 << 20) {
        self.init(format: format, destination: destination, descriptor: -1, limit: limit)
    }

    /// Lines are appended to the file at `path` (created 0600; a symbolic link there is refused).
    public convenience init(format: ProxyContext.AccessLogFormat, path: String, limit: Int = 4 << 20) throws(AccessLogError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw AccessLogError(message: "cannot open the access log \(path): \(String(cString: strerror(errno)))")
        }
        self.init(format: format, destination: .file(path), descriptor: descriptor, limit: limit)
    }

    private init(format: ProxyContext.AccessLogFormat, destination: Destination, descriptor: Int32, limit: Int) {
        self.format = format
        self.destination = destination
        self.descriptor = descriptor
        self.limit = limit
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "devhost access log"
        writer = thread
        thread.start()
    }

    /// Lines dropped because the writer fell behind (also in `/_devhost/metrics`).
    public var droppedLines: Int { condition.withLock { dropped } }

    /// Writes what is queued and ends the writer thread.
    public func close() {
        let first: Bool = condition.withLock {
            let first = !stopping
            stopping = true
            condition.broadcast()
            // Bounded: the writer has at most `limit` bytes left to write.
            while writer != nil { condition.wait() }
            return first
        }
        if first, descriptor >= 0 { Foundation.close(descriptor) }
    }

    /// What goes before each line of a batch: on the terminal, LogOutput's prefix (read once per
    /// batch: its width follows the longest label, and timestamps change).
    func prefix() -> [UInt8] {
        if case .output(let log) = destination { return log.linePrefix(label: "proxy", color: "1") }
        return []
    }

    /// Takes a batch of whole lines from an event loop (the caller keeps the storage).
    func submit(_ batch: ByteBuffer, lines: Int) {
        condition.withLock {
            guard !stopping, queued + batch.readableBytes <= limit else {
                dropped += lines
                return
            }
            queue.append(batch)
            queued += batch.readableBytes
            condition.signal()
        }
    }

    private func run() {
        var taken: [ByteBuffer] = []
        while true {
            var notice: Int?
            let stop: Bool = condition.withLock {
                while queue.isEmpty, !stopping { condition.wait() }
                swap(&queue, &taken)
                queued = 0
                if dropped > 0, !announced {
                    announced = true
                    notice = dropped
                }
                return stopping && taken.isEmpty
            }
            if stop { break }
            for batch in taken { write(batch) }
            taken.removeAll(keepingCapacity: true)
            if let notice {
                let text =
                    "access log: the terminal or disk is slower than the traffic; dropping lines (\(notice) so far, counted in /_devhost/metrics)"
                switch destination {
                case .output(let log): log.event(text, service: nil, label: "proxy")
                case .file: write(ByteBuffer(string: text + "\n"))
                }
            }
        }
        condition.withLock {
            writer = nil
            condition.broadcast()
        }
    }

    private func write(_ batch: ByteBuffer) {
        switch destination {
        case .output(let log):
            batch.withUnsafeReadableBytes { log.writeRaw($0) }
        case .file:
            batch.withUnsafeReadableBytes { writeAll(descriptor, $0) }
        }
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// One event loop's lines since its last tick ended (used only on that loop).
final class AccessBatch: @unchecked Sendable {
    private let loop: EventLoop
    private let log: AccessLog
    private var buffer = ByteBuffer()
    private var lines = 0
    private var scheduled = false
    private var prefix: [UInt8] = []

    init(loop: EventLoop, log: AccessLog) {
        self.loop = loop
        self.log = log
    }

    /// One line: the same fields and layout as always (`GET api.localhost/items 200 31B 0.4ms
    /// ID → api.1`, or a JSON object). Query strings are left out: they carry OAuth codes and
    /// tokens. Client-controlled text is escaped (`LogText`).
    func record(
        method: ByteBuffer, host: String, target: ByteBuffer, status: Int, bytes: Int, nanoseconds: Int64, requestID: RequestID,
        instance: String?
    ) {
        line(
            method: method, host: host, target: target, status: status, bytes: bytes, nanoseconds: nanoseconds, requestID: requestID,
            instance: instance, grpcStatus: nil)
    }

    /// The same for a relayed HTTP/2 stream, with the call's `grpc-status` when it had one
    /// (`grpc-status=14` at the end of the line; `grpc_status` in JSON).
    func record(
        method: ByteBuffer, host: String, target: ByteBuffer, status: Int, bytes: Int, nanoseconds: Int64, requestID: RequestID,
        instance: String?, grpcStatus: Int?
    ) {
        line(
            method: method, host: host, target: target, status: status, bytes: bytes, nanoseconds: nanoseconds, requestID: requestID,
            instance: instance, grpcStatus: grpcStatus)
    }

    // Inlined into both: the HTTP/1.1 path's line is the same code as before, its gRPC branch gone.
    @inline(__always)
    private func line(
        method: ByteBuffer, host: String, target: ByteBuffer, status: Int, bytes: Int, nanoseconds: Int64, requestID: RequestID,
        instance: String?, grpcStatus: Int?
    ) {
        if !scheduled {
            scheduled = true
            prefix = log.prefix()
            // After this tick's I/O events, like FlushBatch: one hand-over per tick.
            loop.execute { self.submit() }
        }
        buffer.writeBytes(prefix)
        var path = target
        if let question = path.readableBytesView.firstIndex(of: UInt8(ascii: "?")) {
            path = path.getSlice(at: path.readerIndex, length: question - path.readerIndex)!
        }
        switch log.format {
        case .human, .off:
            buffer.writeImmutableBuffer(method)
            buffer.writeStaticString(" ")
            LogText.write(host, into: &buffer)
            LogText.write(path, into: &buffer)
            buffer.writeStaticString(" ")
            Self.writeInteger(status, into: &buffer)
            buffer.writeStaticString(" ")
            Self.writeInteger(bytes, into: &buffer)
            buffer.writeStaticString("B ")
            Self.writeDecimal(nanoseconds, places: 1, into: &buffer)
            buffer.writeStaticString("ms ")
            requestID.write(into: &buffer)
            if let instance {
                buffer.writeStaticString(" → ")
                buffer.writeString(instance)
            }
            if let grpcStatus {
                buffer.writeStaticString(" grpc-status=")
                Self.writeInteger(grpcStatus, into: &buffer)
            }
        case .json:
            // Not the default format: strings are fine here.
            var text = "{\"method\":"
            JSONValue.escape(String(buffer: method), into: &text)
            text += ",\"host\":"
            JSONValue.escape(host, into: &text)
            text += ",\"path\":"
            JSONValue.escape(String(decoding: path.readableBytesView, as: UTF8.self), into: &text)
            text += ",\"request_id\":"
            JSONValue.escape(requestID.string, into: &text)
            text += ",\"instance\":"
            JSONValue.escape(instance ?? "", into: &text)
            buffer.writeString(text)
            buffer.writeStaticString(",\"status\":")
            Self.writeInteger(status, into: &buffer)
            buffer.writeStaticString(",\"bytes\":")
            Self.writeInteger(bytes, into: &buffer)
            buffer.writeStaticString(",\"duration_ms\":")
            Self.writeDecimal(nanoseconds, places: 3, into: &buffer)
            if let grpcStatus {
                buffer.writeStaticString(",\"grpc_status\":")
                Self.writeInteger(grpcStatus, into: &buffer)
            }
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("\n")
        lines += 1
    }

    private func submit() {
        scheduled = false
        log.submit(buffer, lines: lines)
        // A fresh buffer: the writer thread holds the old one until it is written.
        buffer = ByteBuffer()
        buffer.reserveCapacity(4096)
        lines = 0
    }

    static func writeInteger(_ value: Int, into buffer: inout ByteBuffer) {
        if value < 0 {
            buffer.writeStaticString("-")
            return writeInteger(-value, into: &buffer)
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { out in
            repeat {
                out[19 - count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: out[(20 - count)...]))
        }
    }

    /// Nanoseconds as milliseconds with `places` decimals, rounded half up.
    static func writeDecimal(_ nanoseconds: Int64, places: Int, into buffer: inout ByteBuffer) {
        let unit: Int64 = places == 1 ? 100_000 : 1_000
        let scaled = (max(0, nanoseconds) + unit / 2) / unit
        let divisor: Int64 = places == 1 ? 10 : 1000
        writeInteger(Int(scaled / divisor), into: &buffer)
        buffer.writeStaticString(".")
        let fraction = Int(scaled % divisor)
        if places == 3 {
            if fraction < 100 { buffer.writeStaticString("0") }
            if fraction < 10 { buffer.writeStaticString("0") }
        }
        writeInteger(fraction, into: &buffer)
    }
}
