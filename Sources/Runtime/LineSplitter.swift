/// Cuts a byte stream into lines. A line longer than `limit` is emitted in pieces rather than held
/// forever; the tail is flushed when the stream ends.
struct LineSplitter {
    static let limit = 16 * 1024
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: some Collection<UInt8>, _ emit: (String) -> Void) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                flush(emit)
            } else {
                pending.append(byte)
                if pending.count >= Self.limit { flush(emit) }
            }
        }
    }

    mutating func finish(_ emit: (String) -> Void) {
        if !pending.isEmpty { flush(emit) }
    }

    private mutating func flush(_ emit: (String) -> Void) {
        if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        emit(String(decoding: pending, as: UTF8.self))
        pending.removeAll(keepingCapacity: true)
    }
}
