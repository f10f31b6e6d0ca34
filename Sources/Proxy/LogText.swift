import NIOCore

/// Client-controlled text on its way into a human log line, which goes to a developer's terminal:
/// control characters (C0, DEL and the C1 range, where U+009B is a CSI on some terminals) are
/// written as escapes, so a request cannot recolour, retitle or move around in the terminal.
enum LogText {
    static func printable(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0..<0x20, 0x7F..<0xA0:
                out += "\\x"
                let hex = String(scalar.value, radix: 16)
                if hex.count < 2 { out += "0" }
                out += hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text`, escaped as `printable` does, written as bytes.
    static func write(_ text: String, into buffer: inout ByteBuffer) {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            buffer.writeString(text)
        } else {
            buffer.writeString(printable(text))
        }
    }

    /// Bytes from a request (its target), escaped as `printable` does.
    static func write(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        if bytes.readableBytesView.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            buffer.writeImmutableBuffer(bytes)
        } else {
            buffer.writeString(printable(String(decoding: bytes.readableBytesView, as: UTF8.self)))
        }
    }
}
