import Foundation
import NIOCore

/// Reading a parsed head's values: strings are made only for the slow paths (logs, pages, routing
/// a host not seen before on the connection).
extension HTTPHead {
    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    /// A field name in lower case (HTTP/2 sends no other), made in one pass over the bytes.
    func lowercasedString(_ range: Range<Int>) -> String {
        bytes.withUnsafeReadableBytes { raw in
            let name = UnsafeRawBufferPointer(rebasing: raw[range])
            return String(unsafeUninitializedCapacity: name.count) { out in
                for (index, byte) in name.enumerated() {
                    out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                }
                return name.count
            }
        }
    }

    func first(_ kind: Kind) -> Field? {
        fields.first { $0.kind == kind }
    }

    func value(_ kind: Kind) -> String? {
        first(kind).map { string($0.value) }
    }

    var methodString: String { string(method) }

    var methodBytes: ByteBuffer { bytes.getSlice(at: bytes.readerIndex + method.lowerBound, length: method.count)! }

    /// The target in origin form, as bytes (see `targetString`).
    var targetBytes: ByteBuffer {
        if absoluteTarget, target.isEmpty { return ByteBuffer(string: "/") }
        return bytes.getSlice(at: bytes.readerIndex + target.lowerBound, length: target.count)!
    }

    /// Whether `range` holds the same bytes as `other` (no string is made).
    func bytesEqual(_ range: Range<Int>, _ other: [UInt8]) -> Bool {
        guard range.count == other.count else { return false }
        if range.isEmpty { return true }
        return bytes.withUnsafeReadableBytes { p in
            other.withUnsafeBytes { o in memcmp(p.baseAddress! + range.lowerBound, o.baseAddress!, range.count) == 0 }
        }
    }

    func byteArray(_ range: Range<Int>) -> [UInt8] {
        bytes.getBytes(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? []
    }
    /// The target in origin form (an absolute-form target's path; `/` when it had none).
    var targetString: String { absoluteTarget && target.isEmpty ? "/" : string(target) }

    func methodIs(_ upper: StaticString) -> Bool {
        // Methods are case-sensitive (RFC 9110 §9.1): compared exactly.
        bytes.withUnsafeReadableBytes { Self.equalsExactly($0, method, upper) }
    }

    /// HTTP/1.1 stays open unless told otherwise; HTTP/1.0 closes unless asked to keep alive.
    var keepAlive: Bool { minor >= 1 ? !connectionClose : connectionKeepAlive && !connectionClose }

    var isUpgrade: Bool { connectionUpgrade && hasUpgrade }

    var targetStartsWithReservedPrefix: Bool {
        bytes.withUnsafeReadableBytes { p in
            let prefix: StaticString = "/_devhost/"
            guard target.count >= prefix.utf8CodeUnitCount else { return false }
            for k in 0..<prefix.utf8CodeUnitCount where p[target.lowerBound + k] != prefix.utf8Start[k] { return false }
            return true
        }
    }

    var wantsJSON: Bool {
        fields.contains { $0.kind == .accept && string($0.value).contains("application/json") }
    }

    /// Whether a field named by `Connection` is `field`'s name.
    func isNamedByConnection(_ field: Field) -> Bool {
        guard hasConnectionTokens else { return false }
        return bytes.withUnsafeReadableBytes { p in
            fields.contains { entry in
                let token = entry.name
                return entry.kind == .connectionToken && token.count == field.name.count
                    && zip(token, field.name).allSatisfy { p[$0] | 0x20 == p[$1] | 0x20 }
            }
        }
    }
}
