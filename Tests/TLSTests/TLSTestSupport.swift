import DevhostManifest
import DevhostTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

@testable import DevhostTLS

/// A CA in a temporary data folder, removed with the value.
final class TempCA: Sendable {
    let root: String
    let files: LocalCAFiles
    let ca: LocalCA

    init(extraDomains: [String] = []) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("devhost-tls-\(UUID().uuidString.prefix(8))").path
        files = LocalCAFiles(folder: root + "/data/devhost/ca")
        ca = try LocalCA.loadOrCreate(files: files, scope: NameScope(extraDomains: extraDomains))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `text` to a file under the temporary root and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }
}

/// The store tools through the tests' spawner (devhost's reaper owns every child of this process).
let testTools = ToolRunner { argv in
    let result = try run(argv)
    return ToolRunner.Outcome(status: result.status, output: result.output)
}

/// Collects every log line a component writes, for tests that look for one.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let extra = (event.metadata ?? [:]).merging(metadata) { a, _ in a }.map { "\($0)=\($1)" }.sorted().joined(separator: " ")
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(extra)") }
        }
    }
}

/// A TLS server on 127.0.0.1 with a port from the OS, answering every HTTP/1.1 request with
/// `hello over TLS`: the proxy's pipeline in miniature, NIOSSLServerHandler first.
final class TestTLSServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    init(context: NIOSSLContext) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FixedResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

final class FixedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = ByteBuffer(string: "hello over TLS\n")
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "\(body.readableBytes)"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

@available(*, unavailable)
extension FixedResponder: Sendable {}
