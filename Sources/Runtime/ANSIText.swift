/// Terminal escape sequences in service output (`uvicorn`'s coloured status codes, `npm`'s progress).
/// They belong on a terminal that asked for colour; in a log file, a pipe or under `NO_COLOR` they
/// are noise (`"[33mGET /nope HTTP/1.1[0m"`), so those get the text without them.
public enum ANSIText {
    /// `text` without CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC \`) and two-byte `ESC x`
    /// sequences. A lone ESC at the end is dropped too.
    public static func strip(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(0x1B) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x1B else {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            switch bytes[index] {
            case UInt8(ascii: "["):
                // Parameters and intermediates (0x20–0x3F), then one final byte (0x40–0x7E).
                index += 1
                while index < bytes.count, (0x20...0x3F).contains(bytes[index]) { index += 1 }
                if index < bytes.count, (0x40...0x7E).contains(bytes[index]) { index += 1 }
            case UInt8(ascii: "]"):
                index += 1
                while index < bytes.count {
                    if bytes[index] == 0x07 {
                        index += 1
                        break
                    }
                    if bytes[index] == 0x1B, index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\") {
                        index += 2
                        break
                    }
                    index += 1
                }
            default:
                // `ESC x`, or `ESC ( B` and the like: intermediates (0x20–0x2F), then one final byte.
                while index < bytes.count, (0x20...0x2F).contains(bytes[index]) { index += 1 }
                if index < bytes.count { index += 1 }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
