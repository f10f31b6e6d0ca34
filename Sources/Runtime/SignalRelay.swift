import DevhostProxy
import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// Turns SIGINT and SIGTERM into a graceful stop, and a second one into a forced stop.
///
/// Unchecked: Dispatch's sources are not declared Sendable, but these are set once in `init` and then
/// only cancelled, which Dispatch allows from any thread.
public final class SignalRelay: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]
    /// Guards how many signals arrived (the handlers run on a global queue, `received` on any thread).
    private let count = NIOLockedValueBox(0)

    /// `notice` is written to standard error at the first signal (nil: nothing is written).
    public init(notice: String? = nil, _ handler: @escaping @Sendable (_ force: Bool) -> Void) {
        var sources: [DispatchSourceSignal] = []
        let count = self.count
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let seen = count.withLockedValue { value -> Int in
                    value += 1
                    return value
                }
                if seen == 1, let notice { Array((notice + "\n").utf8).withUnsafeBytes { writeAll(STDERR_FILENO, $0) } }
                handler(seen > 1)
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    public var received: Bool { count.withLockedValue { $0 > 0 } }

    public func cancel() {
        for source in sources { source.cancel() }
    }
}
